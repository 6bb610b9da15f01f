"""Block Kit rendering and the small pure helpers of the Slack surface (no server, no knowledge base).

Slack rejects a whole message when one section is over 3,000 characters or it has more than 50
blocks, so these tests throw oversized and hostile input at the renderer and check every limit.
"""

from __future__ import annotations

import json

import pytest

from bot.city import load_city
from bot.config import PROJECT_ROOT
from bot.engine.answer import Answer, Source
from bot.slack import blocks as bk
from bot.slack.logs import kv
from bot.slack.payload import is_user_dm, strip_mentions

CITY = load_city(PROJECT_ROOT / "knowledge")


def _source(i: int, text: str = "個人(個人事業主を除く)からの提案は対象外となります。") -> Source:
    return Source(title=f"民間提案制度ガイドライン{i}", doc_type="guideline", section="留意事項", page=15,
                  text=text, score=0.9, doc_id=f"aomori/guideline{i}", chunk_id=f"c{i}")


def _answer(text: str = "個人事業主は提案できます。[1]", *, sources: int = 2, question: str = "個人でも提案できますか？",
            **kw) -> Answer:
    return Answer(question=question, text=text, category="eligibility", abstained=False,
                  sources=[_source(i) for i in range(1, sources + 1)], **kw)


def _all_within_limits(blocks: list[dict], max_blocks: int = 50) -> None:
    assert len(blocks) <= max_blocks
    for b in blocks:
        if b["type"] == "section":
            assert len(b["text"]["text"]) <= 3000
        if b["type"] == "context":
            assert all(len(e["text"]) <= 3000 for e in b["elements"])
        for el in b.get("elements", []) + ([b["accessory"]] if "accessory" in b else []):
            if el.get("type") == "button":
                assert len(el.get("value", "")) <= 2000
                assert len(el["text"]["text"]) <= 75


def test_answer_blocks_have_text_sources_notice_and_the_four_buttons() -> None:
    answer = _answer(notice="※参考情報です。")
    blocks = bk.answer_blocks(answer, turn_ref="r7", channel="D1", thread_ts="1.2", city=CITY)
    text = json.dumps(blocks, ensure_ascii=False)
    assert blocks[0]["text"]["text"].startswith("個人事業主は提案できます。")
    assert "民間提案制度ガイドライン1 › 留意事項, p. 15" in text
    assert [b["accessory"]["action_id"] for b in blocks if "accessory" in b] == ["show_quote_1", "show_quote_2"]
    assert any(b["type"] == "context" and b["elements"][0]["text"] == "※参考情報です。" for b in blocks)
    actions = blocks[-1]
    assert actions["type"] == "actions"
    assert [e["action_id"] for e in actions["elements"]] == ["feedback_up", "feedback_down", "handoff",
                                                             "draft_proposal"]
    assert [e["text"]["text"] for e in actions["elements"]][2:] == ["担当者に相談する", "提案の下書きを作成"]
    draft = json.loads(actions["elements"][3]["value"])
    assert draft == {"turn": "r7", "channel": "D1", "thread_ts": "1.2", "question": "個人でも提案できますか？",
                     "language": "ja"}
    _all_within_limits(blocks)


def test_oversized_answer_is_split_trimmed_and_offers_the_full_text() -> None:
    long_text = "\n\n".join(f"第{i}段落。" + "提案内容は市の資料に基づいて確認します。" * 60 for i in range(12))
    answer = _answer(long_text, sources=40, question="長い質問" * 900)
    blocks = bk.answer_blocks(answer, turn_ref="r1", channel="C1", thread_ts="1.1", city=CITY)
    _all_within_limits(blocks)
    sections = [b for b in blocks if b.get("block_id", "").startswith("answer_") and b["block_id"] != "answer_actions"]
    assert len(sections) == bk.ANSWER_SECTIONS + 1  # the shown parts and the "trimmed" note
    assert sections[-1]["accessory"]["action_id"] == "show_full_answer"
    assert sum(1 for b in blocks if b.get("block_id", "").startswith("source_")) == bk.MAX_SOURCES
    # the full text goes to a modal, which also stays within its limits
    view = bk.full_answer_modal(long_text, "ja")
    _all_within_limits(view["blocks"], max_blocks=100)
    shown = "".join(b["text"]["text"] for b in view["blocks"])
    assert shown.replace("\n", "") == long_text.replace("\n", "")
    assert len(view["title"]["text"]) <= 24


def test_a_single_unbroken_run_of_japanese_is_hard_split() -> None:
    text = "あ" * 7001
    parts = bk.split_text(text, 3000)
    assert [len(p) for p in parts] == [3000, 3000, 1001]


def test_split_prefers_sentence_ends_and_never_cuts_an_entity() -> None:
    text = ("これは文です。" * 500)[:2990] + "&<>" * 20
    for part in bk.split_text(bk.escape(text), 3000):
        assert len(part) <= 3000
        assert not part.endswith("&") and not part.endswith("&am") and not part.endswith("&l")
    parts = bk.split_text("一文目です。" * 600, 3000)
    assert all(p.endswith("。") for p in parts)


def test_clamp_blocks_keeps_the_buttons_when_blocks_must_go() -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 5000}} for _ in range(80)]
    blocks.append({"type": "actions", "elements": []})
    out = bk.clamp_blocks(blocks)
    assert len(out) == 50 and out[-1]["type"] == "actions"
    assert all(len(b["text"]["text"]) <= 3000 for b in out if b["type"] == "section")


def test_user_and_document_text_cannot_mention_everyone_or_inject_links() -> None:
    answer = _answer("<!channel> 詳細は <https://evil.example|こちら> & 確認", question="<!here> 質問")
    blocks = bk.answer_blocks(answer, turn_ref="r1", channel="C1", thread_ts="1.1", city=CITY)
    first = blocks[0]["text"]["text"]
    assert "<!channel>" not in first and "&lt;!channel&gt;" in first and "&amp;" in first
    turn = type("T", (), {"question": "<!here> 至急", "answer": "<@U999> 回答"})()
    desk = bk.handoff_blocks(asker="U1", turns=[turn], channel="C1", permalink=None)
    text = json.dumps(desk, ensure_ascii=False)
    assert "<!here>" not in text and "<@U999>" not in text and "<@U1>" in text


def test_english_question_gets_english_framing() -> None:
    answer = _answer("Sole proprietors may apply. [1]", question="Can a sole proprietor submit a proposal?")
    blocks = bk.answer_blocks(answer, turn_ref="r3", channel="D1", thread_ts="1.1", city=CITY)
    labels = [e["text"]["text"] for e in blocks[-1]["elements"]]
    assert labels[2:] == ["Talk to the desk", "Draft a proposal"]
    assert json.loads(blocks[-1]["elements"][3]["value"])["language"] == "en"
    assert any(b.get("block_id") == "notice" and "city's published documents" in b["elements"][0]["text"]
               for b in blocks)


def test_abstention_shows_the_desk_contact_once() -> None:
    answer = Answer(question="天気は？", text="資料には記載がありません。", category="out_of_scope", abstained=True)
    blocks = bk.answer_blocks(answer, turn_ref="r1", channel="D1", thread_ts="1.1", city=CITY)
    assert any(b.get("block_id") == "contact" and CITY.desk.phone in b["elements"][0]["text"] for b in blocks)
    answer.text += f" 電話 {CITY.desk.phone}"
    blocks = bk.answer_blocks(answer, turn_ref="r1", channel="D1", thread_ts="1.1", city=CITY)
    assert not any(b.get("block_id") == "contact" for b in blocks)


@pytest.mark.parametrize("question", ["あ" * 5000, 'quote " and \\ and \n newline ' * 200, "x"])
def test_draft_button_value_always_fits(question: str) -> None:
    value = bk.draft_button_value(turn_ref="0123456789abcdef0123456789abcdef", channel="C0123456789", thread_ts="1700000000.123456",
                                  question=question, language="ja")
    assert len(value) <= 2000
    data = json.loads(value)
    assert question.startswith(data["question"].rstrip("…"))


def test_handoff_blocks_keep_the_latest_turns_within_limits() -> None:
    turns = [type("T", (), {"question": f"質問{i}" * 400, "answer": f"回答{i}" * 900})() for i in range(30)]
    desk = bk.handoff_blocks(asker="U1", turns=turns, channel="D1", permalink="https://x.slack.com/p1")
    _all_within_limits(desk)
    text = json.dumps(desk, ensure_ascii=False)
    assert "質問29" in text and "質問0質問0" not in text


def test_quote_modal_shows_the_whole_passage() -> None:
    passage = "市の予算以外から費用を捻出することを基本とします。" * 300
    view = bk.quote_modal("ガイドライン › 実証実験サポート, p. 10", passage, "ja")
    _all_within_limits(view["blocks"], max_blocks=100)
    assert "".join(b["text"]["text"] for b in view["blocks"][1:]).replace("> ", "").replace("\n", "") == passage




def test_is_user_dm_filters_bots_edits_and_system_messages() -> None:
    base = {"type": "message", "channel_type": "im", "channel": "D1", "user": "U1", "text": "質問", "ts": "1.1"}
    assert is_user_dm(base)
    assert is_user_dm({**base, "subtype": "file_share"})
    assert not is_user_dm({**base, "bot_id": "B1"})
    assert not is_user_dm({**base, "subtype": "bot_message"})
    assert not is_user_dm({**base, "subtype": "message_changed"})
    assert not is_user_dm({**base, "subtype": "message_deleted"})
    assert not is_user_dm({**base, "channel_type": "channel"})
    assert not is_user_dm({k: v for k, v in base.items() if k != "user"})


def test_strip_mentions_removes_only_the_bot() -> None:
    assert strip_mentions("<@UBOT> 個人でも提案できますか？", "UBOT") == "個人でも提案できますか？"
    assert strip_mentions("<@UBOT|ppp-desk>   ", "UBOT") == ""
    assert strip_mentions("<@UBOT> <@U2> さんと相談中です", "UBOT") == "<@U2> さんと相談中です"


def test_log_lines_are_logfmt() -> None:
    assert kv("answer_posted", surface="dm", ms=12.345, error=None) == "event=answer_posted surface=dm ms=12.3"
    assert kv("x", reason='a "b" c') == 'event=x reason="a \\"b\\" c"'


def test_one_escaping_function_for_every_surface() -> None:
    from bot.precedents import render
    from bot.records import blocks as rb
    from bot.slack import escape as esc

    assert bk.escape is rb.escape is render.escape is esc.escape
    assert bk.truncate is render.truncate is esc.truncate
    assert esc.escape("<!channel> a&b <@U1>") == "&lt;!channel&gt; a&amp;b &lt;@U1&gt;"
    for limit in range(2, 30):  # a cut never leaves half an entity behind
        cut = esc.truncate(esc.escape("<" * 40), limit)
        assert len(cut) <= limit and cut.rstrip("…").replace("&lt;", "") == ""
