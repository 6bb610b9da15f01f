"""The question object: the ask of a long message, the expected kind of answer, follow-ups, the glossary."""

from __future__ import annotations

import pytest

from bot.engine.glossary import GlossaryError, load_glossary
from bot.engine.question import parse
from tests.conftest import KNOWLEDGE


@pytest.fixture(scope="module")
def glossary():
    return load_glossary(KNOWLEDGE)


def test_the_ask_of_a_long_message_is_its_question_not_its_introduction(glossary) -> None:
    q = parse("はじめまして。弊社は市内で印刷業を営んでいます。社員は20名です。個人事業主でも提案できますか？", glossary)
    assert q.ask_parts == ("個人事業主でも提案できますか?",)
    assert "印刷業" in q.whole and "印刷" not in q.ask
    assert "個人事業主" in q.nouns or "個人" in q.nouns


def test_several_questions_in_one_message_are_each_an_ask(glossary) -> None:
    q = parse("提案は夜でも送れますか？あと、窓口に持参してもいいですか？", glossary)
    assert len(q.ask_parts) == 2


@pytest.mark.parametrize(("question", "kinds"), [
    ("提案の締め切り日はいつですか？", {"date"}),
    ("センターの利用料はいくらですか？", {"amount"}),
    ("何時まで開いていますか？", {"time_of_day"}),
    ("回収機は何店舗に置かれましたか？", {"count"}),
    ("税の軽減は何割ですか？", {"percent"}),
    ("締結式はどこで行われましたか？", {"place"}),
    ("How much does it cost?", {"amount"}),
    ("個人でも提案できますか？", set()),
    ("提案はいつでも受け付けていますか？", set()),  # 「いつでも」 asks whether, not when
])
def test_the_expected_kind_of_answer_comes_from_the_question_words(glossary, question: str, kinds: set) -> None:
    assert {t.name for t in parse(question, glossary).expected} == kinds


def test_a_marked_follow_up_inherits_the_previous_ask_and_a_full_question_does_not(glossary) -> None:
    follow = parse("NPOの場合はどうですか？", glossary, ["個人で提案できますか？"])
    assert follow.is_follow_up and "個人で提案できますか" in follow.ask
    fresh = parse("実証実験サポートでは市はどのような支援をしてくれるのでしょうか？", glossary, ["個人で提案できますか？"])
    assert not fresh.is_follow_up


def test_english_questions_are_matched_through_the_glossarys_japanese_terms(glossary) -> None:
    q = parse("Can a sole proprietor submit a proposal?", glossary)
    assert q.language == "en"
    assert "個人事業主" in q.expansion and "提案" in q.nouns


def test_a_contact_question_must_name_the_desk(glossary) -> None:
    assert parse("デスクの電話番号を教えてください", glossary).wants_contact
    assert not parse("ラボの住所を教えてください", glossary).wants_contact


def test_a_broken_glossary_pattern_is_named_with_the_file_and_the_key(tmp_path) -> None:
    (tmp_path / "glossary.yaml").write_text("answer_types:\n  date:\n    ask: ['(いつ']\n", "utf-8")
    with pytest.raises(GlossaryError, match=r"glossary.yaml: answer_types.date.ask"):
        load_glossary(tmp_path)


def test_a_city_without_a_glossary_still_gets_answers_parsed(tmp_path) -> None:
    q = parse("個人でも提案できますか？", load_glossary(tmp_path))
    assert q.ask_parts and not q.expected
