"""The real Slack app end to end: signed requests over HTTP on loopback, the real engine and
knowledge base, and a local stand-in for Slack's Web API that records what a user would see.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import replace
from typing import Any

import pytest
from slack_helpers import (
    ASKER,
    DESK_CHANNEL,
    RunningApp,
    app_mention,
    assistant_thread_started,
    block_actions,
    event_callback,
    make_slack_settings,
    message_im,
    message_shortcut,
    new_ts,
    press,
    running_app,
    slack_app_fixture,  # noqa: F401
    slack_settings_fixture,  # noqa: F401
    slack_stub_fixture,  # noqa: F401
)
from sqlalchemy import select

from bench.slack_stub import BOT_ID, BOT_USER_ID, SlackStub
from bot.engine.answer import Answer
from bot.slack.history import thread_turns
from bot.slack.models import Feedback, Handoff, ProcessedEvent

pytestmark = pytest.mark.slow

QUESTION = "個人でも提案できますか？"


def _ask_dm(app: RunningApp, text: str = QUESTION, **kw: Any) -> tuple[dict, Any]:
    """Send a DM question and return (the event, the posted answer call)."""
    event = message_im(text, **kw)
    thread = event.get("thread_ts") or event["ts"]

    def answer_in_thread(c: Any) -> bool:
        return c.params.get("thread_ts") == thread and bool(c.params.get("blocks"))

    before = len([c for c in app.stub.successful("chat.postMessage") if answer_in_thread(c)])
    sent = app.sender.event(event)
    assert sent.status == 200 and sent.seconds < 3
    call = app.stub.wait_for("chat.postMessage", count=before + 1, where=answer_in_thread)[-1]
    app.wait_idle()
    return event, call


# --- transport and platform rules ------------------------------------------------------------------


def test_url_verification_and_healthz(slack_app: RunningApp) -> None:
    sent = slack_app.sender.url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    assert sent.status == 200 and "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in sent.body
    health = slack_app.sender.get("/healthz")
    assert health.status == 200 and health.json()["ok"] is True
    assert slack_app.sender.get("/nope").status == 404


@pytest.mark.parametrize("tamper", ["bad_signature", "wrong_secret", "stale_timestamp", "unsigned"])
def test_unverified_requests_get_401_and_nothing_is_posted(slack_app: RunningApp, tamper: str) -> None:
    body = json.dumps(event_callback(message_im(QUESTION)))
    kw: dict[str, Any] = {
        "bad_signature": {"headers": {"X-Slack-Signature": "v0=" + "0" * 64}},
        "wrong_secret": {"secret": "not-the-signing-secret"},
        "stale_timestamp": {"timestamp": int(time.time()) - 6 * 60},
        "unsigned": {"signed": False},
    }[tamper]
    sent = slack_app.sender.post(body, "application/json", **kw)
    assert sent.status == 401
    slack_app.wait_idle()
    assert slack_app.stub.calls("chat.postMessage") == []
    with slack_app.ctx.db.session() as s:
        assert s.scalars(select(ProcessedEvent)).all() == []  # a forged id cannot block the real one


def test_retries_and_duplicate_event_ids_produce_one_answer(slack_app: RunningApp) -> None:
    body = event_callback(message_im(QUESTION))
    results: list[int] = []

    def deliver(retry: int | None) -> None:
        results.append(slack_app.sender.event_body(body, retry_num=retry).status)

    threads = [threading.Thread(target=deliver, args=(r,)) for r in (None, 1, 2, None, 3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results == [200] * 5
    slack_app.stub.wait_for("chat.postMessage")
    slack_app.wait_idle()
    time.sleep(0.3)
    assert len(slack_app.stub.calls("chat.postMessage")) == 1
    assert len(thread_turns(slack_app.ctx.db, body["event"]["channel"], body["event"]["ts"])) == 1


def test_bot_messages_edits_and_system_messages_are_ignored(slack_app: RunningApp) -> None:
    ts = new_ts()
    ignored = [
        message_im("自分の投稿", user=BOT_USER_ID, bot_id=BOT_ID, app_id="A0001"),  # ourselves
        message_im("他のボット", bot_id="B0OTHER", subtype="bot_message"),
        {"type": "message", "subtype": "message_changed", "channel": "D0ASKER01", "channel_type": "im",
         "hidden": True, "ts": new_ts(), "message": {"type": "message", "user": ASKER, "text": "編集後", "ts": ts},
         "previous_message": {"type": "message", "user": ASKER, "text": "編集前", "ts": ts}},
        {"type": "message", "subtype": "message_deleted", "channel": "D0ASKER01", "channel_type": "im",
         "hidden": True, "ts": new_ts(), "deleted_ts": ts},
        app_mention("ボットからのメンション", user=BOT_USER_ID) | {"bot_id": "B0OTHER"},
    ]
    for event in ignored:
        assert slack_app.sender.event(event).status == 200
    slack_app.wait_idle()
    assert slack_app.stub.calls("chat.postMessage") == []
    # ...while a person's message right after is answered
    _ask_dm(slack_app)


def test_rate_limited_post_is_retried_after_retry_after(slack_app: RunningApp,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    slack_app.stub.rate_limit("chat.postMessage", retry_after=1)
    started = time.monotonic()
    event, call = _ask_dm(slack_app)
    attempts = slack_app.stub.calls("chat.postMessage")
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.0  # waited for Retry-After
    assert call.params["thread_ts"] == event["ts"]
    assert time.monotonic() - started >= 1.0
    assert "event=slack_api_retry reason=rate_limited method=chat.postMessage status=429" in caplog.text


def test_server_error_is_logged_and_retried(slack_app: RunningApp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    slack_app.stub.fail("chat.postMessage", 500)
    _ask_dm(slack_app)
    assert [c.status for c in slack_app.stub.calls("chat.postMessage")] == [500, 200]
    # retried by the outbox, which first checked that Slack had not posted it after all
    assert "outbox answer_post #1 failed (attempt 1): http 500" in caplog.text
    assert slack_app.stub.calls("conversations.replies")
    assert QUESTION not in caplog.text


def test_post_that_keeps_failing_is_retried_from_the_outbox_and_logged_without_content(
        slack_app: RunningApp, caplog: pytest.LogCaptureFixture) -> None:
    """More failures than the client retries: the answer stays queued and arrives once, later."""
    caplog.set_level(logging.DEBUG)
    question = "失敗時のログに本文が出ないことを確認する質問です"
    slack_app.stub.fail("chat.postMessage", 503, times=3)
    body = event_callback(message_im(question))
    assert slack_app.sender.event_body(body).status == 200
    slack_app.stub.wait_for("chat.postMessage", count=1, timeout=30)
    slack_app.wait_idle()
    time.sleep(0.3)
    assert [c.status for c in slack_app.stub.calls("chat.postMessage")] == [503, 503, 503, 200]
    queued = [r.getMessage() for r in caplog.records if "outbox answer_post" in r.getMessage()]
    assert len(queued) == 3 and all("http 503" in line for line in queued)
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert question not in everything and ASKER not in everything


# --- what a business sees ------------------------------------------------------------------------------


def test_dm_is_answered_in_its_thread_with_sources_and_buttons(slack_app: RunningApp) -> None:
    event, call = _ask_dm(slack_app)
    assert call.params["channel"] == event["channel"] and call.params["thread_ts"] == event["ts"]
    assert call.headers["authorization"] == "Bearer xoxb-0000-test"
    blocks = call.blocks
    assert blocks[0]["type"] == "section" and blocks[0]["text"]["text"].strip()
    source_rows = [b for b in blocks if b.get("block_id", "").startswith("source_")]
    assert source_rows and all("›" in b["text"]["text"] for b in source_rows)
    assert any(", p. " in b["text"]["text"] for b in source_rows)  # the PDF or guideline page
    assert any(b.get("block_id") == "notice" for b in blocks)
    actions = [e["action_id"] for e in blocks[-1]["elements"]]
    assert actions == ["feedback_up", "feedback_down", "handoff", "draft_proposal"]
    assert call.params["text"]  # the notification text
    (turn,) = thread_turns(slack_app.ctx.db, event["channel"], event["ts"])
    assert turn.question == QUESTION and turn.answer_ts and turn.user == ASKER and turn.surface == "dm"


def test_quote_button_opens_the_passage(slack_app: RunningApp) -> None:
    event, call = _ask_dm(slack_app)
    payload = press(call.blocks, "show_quote_1", channel=event["channel"], thread_ts=event["ts"])
    sent = slack_app.sender.interactive(payload)
    assert sent.status == 200 and sent.seconds < 3
    (opened,) = slack_app.stub.wait_for("views.open")
    assert opened.params["trigger_id"] == payload["trigger_id"]
    view = opened.json_param("view")
    (turn,) = thread_turns(slack_app.ctx.db, event["channel"], event["ts"])
    passage = turn.sources[0]["text"]
    shown = "".join(b["text"]["text"] for b in view["blocks"][1:])
    assert passage.split("\n")[0][:40].replace("&", "&amp;").replace("<", "&lt;") in shown


def test_thread_follow_up_passes_the_earlier_turns_to_the_engine(slack_settings, slack_stub: SlackStub,
                                                                 engine) -> None:
    class Recording:
        """The real engine, remembering the history each call received."""

        def __init__(self) -> None:
            self.histories: list[list] = []

        def answer(self, question: str, history: list | None = None) -> Answer:
            self.histories.append(list(history or []))
            return engine.answer(question, history=history)

    recording = Recording()
    with running_app(slack_settings, slack_stub, engine=recording) as app:
        first, first_call = _ask_dm(app)
        follow = "実証実験の費用は誰が負担しますか？"
        second, second_call = _ask_dm(app, follow, thread_ts=first["ts"])
        assert second_call.params["thread_ts"] == first["ts"]
        assert recording.histories[0] == []
        (earlier,) = recording.histories[1]
        assert earlier.question == QUESTION and earlier.answer and earlier.category
        turns = thread_turns(app.ctx.db, first["channel"], first["ts"])
        assert [t.question for t in turns] == [QUESTION, follow]
        # the follow-up is in a DM thread, like Slack's Assistant container: status shown while working
        status = slack_stub.calls("assistant.threads.setStatus")
        assert [c.params["status"] for c in status] == ["資料を確認しています…"]
        assert status[0].at < second_call.at


def test_mention_is_answered_in_thread_and_empty_mention_gets_help(slack_app: RunningApp) -> None:
    mention = app_mention(QUESTION)
    assert slack_app.sender.event(mention).status == 200
    call = slack_app.stub.wait_for("chat.postMessage")[0]
    assert call.params["thread_ts"] == mention["ts"] and call.params["channel"] == mention["channel"]
    slack_app.wait_idle()
    assert thread_turns(slack_app.ctx.db, mention["channel"], mention["ts"])[0].question == QUESTION

    empty = app_mention("")
    assert slack_app.sender.event(empty).status == 200
    help_call = slack_app.stub.wait_for("chat.postMessage", where=lambda c: c.params["thread_ts"] == empty["ts"])[0]
    assert "提案内容は公開されますか？" in help_call.block_text()  # a suggested prompt from city.yaml
    slack_app.wait_idle()


def test_english_question_gets_english_framing(slack_app: RunningApp) -> None:
    _, call = _ask_dm(slack_app, "Can a sole proprietor submit a proposal?")
    labels = [e["text"]["text"] for e in call.blocks[-1]["elements"]]
    assert "Talk to the desk" in labels and "Draft a proposal" in labels
    assert json.loads(call.blocks[-1]["elements"][3]["value"])["language"] == "en"
    assert "出典" not in call.block_text() and "Sources" in call.block_text()


def test_oversized_answer_stays_within_block_kit_limits(slack_settings, slack_stub: SlackStub, engine) -> None:
    class Verbose:
        """The real engine's answer, made as long as a talkative LLM could make it."""

        def answer(self, question: str, history: list | None = None) -> Answer:
            real = engine.answer(question, history=history)
            return replace(real, text=(real.text + "\n\n") * 200, sources=real.sources * 20)

    with running_app(slack_settings, slack_stub, engine=Verbose()) as app:
        event, call = _ask_dm(app)
        blocks = call.blocks
        assert len(blocks) <= 50
        assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
        assert len(json.dumps(blocks, ensure_ascii=False)) < 40_000
        payload = press(blocks, "show_full_answer", channel=event["channel"], thread_ts=event["ts"])
        assert app.sender.interactive(payload).status == 200
        view = slack_stub.wait_for("views.open")[0].json_param("view")
        assert len(view["blocks"]) <= 100
        assert all(len(b["text"]["text"]) <= 3000 for b in view["blocks"])


def test_slash_command_answers_ephemerally(slack_app: RunningApp) -> None:
    url = slack_app.stub.response_url()
    sent = slack_app.sender.command("/ppp", QUESTION, response_url=url)
    assert sent.status == 200 and sent.seconds < 3
    (reply,) = slack_app.stub.wait_for("response_url")
    assert reply.path == url.split(slack_app.stub.base_url)[1]
    assert reply.params["response_type"] == "ephemeral" and reply.params["replace_original"] is False
    assert [e["action_id"] for e in reply.params["blocks"][-1]["elements"]][2] == "handoff"
    slack_app.wait_idle()
    assert slack_app.stub.calls("chat.postMessage") == []  # nothing public

    slack_app.sender.command("/ppp", "", response_url=url)
    help_reply = slack_app.stub.wait_for("response_url", count=2)[1]
    assert "個人でも提案できますか？" in json.dumps(help_reply.params["blocks"], ensure_ascii=False)


def test_draft_entry_points_say_coming_soon_without_the_records_feature(slack_app: RunningApp) -> None:
    slack_app.ctx.open_draft = None
    url = slack_app.stub.response_url()
    slack_app.sender.command("/ppp", "下書き", response_url=url)
    assert "準備中" in slack_app.stub.wait_for("response_url")[0].params["text"]
    event, call = _ask_dm(slack_app, "Who pays for a demonstration trial?")
    slack_app.sender.interactive(press(call.blocks, "draft_proposal", channel=event["channel"],
                                       thread_ts=event["ts"]))
    note = slack_app.stub.wait_for("chat.postEphemeral")[0]
    assert note.params["text"] == "Drafting a proposal is coming soon."
    assert note.params["user"] == ASKER and note.params["thread_ts"] == event["ts"]


def test_draft_entry_points_hand_over_to_the_open_draft_hook(slack_app: RunningApp) -> None:
    received: list[dict] = []
    slack_app.ctx.open_draft = lambda client, body: received.append({"client": client, "body": body})
    event, call = _ask_dm(slack_app)
    payload = press(call.blocks, "draft_proposal", channel=event["channel"], thread_ts=event["ts"])
    assert slack_app.sender.interactive(payload).status == 200
    slack_app.sender.command("/ppp", "draft", response_url=slack_app.stub.response_url())
    slack_app.wait_idle()
    assert [kw["body"]["trigger_id"] for kw in received][0] == payload["trigger_id"]
    assert received[1]["body"]["command"] == "/ppp" and received[1]["body"]["trigger_id"]
    assert all(kw["client"] is not None for kw in received)
    value = json.loads(received[0]["body"]["actions"][0]["value"])
    assert value["channel"] == event["channel"] and value["thread_ts"] == event["ts"]
    assert value["question"] == QUESTION and value["language"] == "ja"


def test_handoff_posts_the_thread_to_the_desk_and_confirms_to_the_asker(slack_app: RunningApp) -> None:
    event, call = _ask_dm(slack_app)
    payload = press(call.blocks, "handoff", channel=event["channel"], thread_ts=event["ts"])
    assert slack_app.sender.interactive(payload).status == 200
    desk = slack_app.stub.wait_for("chat.postMessage", where=lambda c: c.params["channel"] == DESK_CHANNEL)[0]
    assert f"<@{ASKER}>" in desk.params["text"] and f"<@{ASKER}>" in desk.block_text()
    assert QUESTION in desk.block_text()
    confirm = slack_app.stub.wait_for("chat.postMessage", where=lambda c: c.params["channel"] == event["channel"]
                                      and "担当者" in c.params.get("text", ""))[0]
    assert confirm.params["thread_ts"] == event["ts"]
    slack_app.wait_idle()
    # a second press does not post again
    slack_app.sender.interactive(press(call.blocks, "handoff", channel=event["channel"], thread_ts=event["ts"]))
    assert "すでに" in slack_app.stub.wait_for("chat.postEphemeral")[0].params["text"]
    slack_app.wait_idle()
    assert len([c for c in slack_app.stub.calls("chat.postMessage") if c.params["channel"] == DESK_CHANNEL]) == 1
    with slack_app.ctx.db.session() as s:
        (row,) = s.scalars(select(Handoff)).all()
        assert row.asker == ASKER and row.desk_channel == DESK_CHANNEL and row.desk_ts


def test_handoff_without_a_desk_channel_gives_the_contact(slack_settings, slack_stub: SlackStub, engine) -> None:
    settings = slack_settings.model_copy(update={"desk_channel_id": None})
    with running_app(settings, slack_stub, engine=engine) as app:
        event, call = _ask_dm(app)
        app.sender.interactive(press(call.blocks, "handoff", channel=event["channel"], thread_ts=event["ts"]))
        note = slack_stub.wait_for("chat.postEphemeral")[0]
        assert app.ctx.city.desk.phone in note.params["text"]


def test_handoff_failure_tells_the_asker_and_allows_a_retry(slack_app: RunningApp) -> None:
    event, call = _ask_dm(slack_app)
    slack_app.stub.error("chat.postMessage", "not_in_channel")
    slack_app.sender.interactive(press(call.blocks, "handoff", channel=event["channel"], thread_ts=event["ts"]))
    assert "失敗" in slack_app.stub.wait_for("chat.postEphemeral")[0].params["text"]
    slack_app.wait_idle()
    slack_app.sender.interactive(press(call.blocks, "handoff", channel=event["channel"], thread_ts=event["ts"]))
    slack_app.stub.wait_for("chat.postMessage", where=lambda c: c.params["channel"] == DESK_CHANNEL)


def test_feedback_is_stored_with_question_and_answer(slack_app: RunningApp) -> None:
    event, call = _ask_dm(slack_app)
    slack_app.sender.interactive(press(call.blocks, "feedback_up", channel=event["channel"], thread_ts=event["ts"]))
    slack_app.stub.wait_for("chat.postEphemeral")
    slack_app.wait_idle()
    with slack_app.ctx.db.session() as s:
        (fb,) = s.scalars(select(Feedback)).all()
        assert (fb.rating, fb.user, fb.question) == (1, ASKER, QUESTION)
        assert fb.answer == thread_turns(slack_app.ctx.db, event["channel"], event["ts"])[0].answer
    slack_app.sender.interactive(press(call.blocks, "feedback_down", channel=event["channel"], thread_ts=event["ts"]))
    slack_app.stub.wait_for("chat.postEphemeral", count=2)
    slack_app.wait_idle()
    with slack_app.ctx.db.session() as s:
        assert [f.rating for f in s.scalars(select(Feedback)).all()] == [-1]  # one vote per person, updated


def test_feedback_on_an_ephemeral_answer_replies_through_response_url(slack_app: RunningApp) -> None:
    url = slack_app.stub.response_url()
    slack_app.sender.command("/ppp", QUESTION, response_url=url)
    blocks = slack_app.stub.wait_for("response_url")[0].params["blocks"]
    slack_app.sender.interactive(press(blocks, "feedback_down", channel="C0PUBLIC1", is_ephemeral=True,
                                       response_url=url))
    slack_app.stub.wait_for("response_url", count=2)
    slack_app.wait_idle()
    with slack_app.ctx.db.session() as s:
        assert [f.rating for f in s.scalars(select(Feedback)).all()] == [-1]


def test_assistant_thread_gets_suggested_prompts_from_the_city_profile(slack_app: RunningApp) -> None:
    started = assistant_thread_started()
    assert slack_app.sender.event(started).status == 200
    (call,) = slack_app.stub.wait_for("assistant.threads.setSuggestedPrompts")
    thread = started["assistant_thread"]
    assert call.params["channel_id"] == thread["channel_id"] and call.params["thread_ts"] == thread["thread_ts"]
    assert [p["message"] for p in call.params["prompts"]] == list(slack_app.ctx.city.suggested_prompts)
    greeting = slack_app.stub.wait_for("chat.postMessage")[0]
    assert greeting.params["thread_ts"] == thread["thread_ts"] and "公民連携デスク" in greeting.params["text"]
    slack_app.wait_idle()


def test_staff_mention_in_the_desk_channel_goes_to_the_precedents_hook(slack_settings, slack_stub: SlackStub,
                                                                       engine) -> None:
    settings = slack_settings.model_copy(update={"desk_staff_user_ids": "USTAFF01"})
    with running_app(settings, slack_stub, engine=engine) as app:
        seen: list[dict] = []
        app.ctx.desk_mention = lambda event, client, say: bool(seen.append({"event": event, "say": say})) or True
        app.sender.event(app_mention("似た事例は？", user="USTAFF01", channel=DESK_CHANNEL))
        app.wait_idle()
        assert len(seen) == 1 and seen[0]["event"]["user"] == "USTAFF01"
        assert callable(seen[0]["say"])
        assert slack_stub.calls("chat.postMessage") == []  # not answered from the public engine
        app.sender.event(app_mention(QUESTION, user=ASKER, channel=DESK_CHANNEL))  # not staff
        slack_stub.wait_for("chat.postMessage")
        app.wait_idle()
        assert len(seen) == 1


def test_without_feature_modules_their_entry_points_fall_back_politely(
        slack_settings, slack_stub: SlackStub, engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.slack.app as slack_app_module

    monkeypatch.setattr(slack_app_module, "FEATURE_MODULES", ())
    with running_app(slack_settings, slack_stub, engine=engine) as app:
        assert app.ctx.open_draft is None and app.ctx.desk_mention is None
        url = slack_stub.response_url()
        msg = {"type": "message", "user": ASKER, "ts": new_ts(), "text": "この件で提案したい"}
        assert app.sender.interactive(message_shortcut("draft_from_message", msg, response_url=url)).status == 200
        assert "準備中" in slack_stub.wait_for("chat.postEphemeral")[0].params["text"]
        sent = app.sender.command("/ppp-precedents", "除雪", response_url=url)
        assert sent.status == 200 and "準備中" in sent.body
        home = {"type": "app_home_opened", "user": ASKER, "channel": "D0ASKER01", "tab": "home",
                "event_ts": new_ts()}
        assert app.sender.event(home).status == 200
        app.wait_idle()


def test_feature_modules_get_the_context_and_real_import_errors_surface(
        slack_settings, slack_stub: SlackStub, engine, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.slack.app as slack_app_module
    from bot.slack.services import Services

    pkg = tmp_path / "pppfeat"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "good.py").write_text("SEEN = []\n\ndef register(app, ctx):\n    SEEN.append((app, ctx))\n")
    (pkg / "broken.py").write_text("import a_dependency_that_is_not_installed_xyz\n\ndef register(app, ctx):\n"
                                   "    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(slack_app_module, "FEATURE_MODULES", ("pppfeat.good", "pppfeat.missing", "nopkg_xyz.slack"))
    with running_app(slack_settings, slack_stub, engine=engine) as app:
        import pppfeat.good

        ((seen_app, seen_ctx),) = pppfeat.good.SEEN
        assert seen_app is app.app and isinstance(seen_ctx, Services)
        assert seen_ctx.engine is engine and seen_ctx.city.suggested_prompts and seen_ctx.staff
    monkeypatch.setattr(slack_app_module, "FEATURE_MODULES", ("pppfeat.broken",))
    with pytest.raises(ModuleNotFoundError, match="a_dependency_that_is_not_installed_xyz"), \
            running_app(slack_settings, slack_stub, engine=engine):
        pass


def test_no_message_text_in_logs_even_at_debug(slack_app: RunningApp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret_question = "株式会社ヒミツ商事の山田です。個人でも提案できますか？"
    event, call = _ask_dm(slack_app, secret_question)
    slack_app.sender.interactive(press(call.blocks, "handoff", channel=event["channel"], thread_ts=event["ts"]))
    slack_app.stub.wait_for("chat.postMessage", where=lambda c: c.params["channel"] == DESK_CHANNEL)
    slack_app.wait_idle()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "event=answer_posted surface=dm" in logged
    assert "ヒミツ" not in logged and "山田" not in logged and ASKER not in logged


def test_block_actions_with_a_forged_turn_are_answered_politely(slack_app: RunningApp) -> None:
    payload = block_actions("handoff", value='{"turn": 99999}', channel="D0ASKER01")
    assert slack_app.sender.interactive(payload).status == 200
    assert "見つかりません" in slack_app.stub.wait_for("chat.postEphemeral")[0].params["text"]
    payload = block_actions("feedback_up", value="not json", channel="D0ASKER01")
    assert slack_app.sender.interactive(payload).status == 200
    slack_app.stub.wait_for("chat.postEphemeral", count=2)
    slack_app.wait_idle()
    assert slack_app.stub.calls("chat.postMessage") == []


def test_acks_stay_fast_while_answers_queue(slack_app: RunningApp) -> None:
    """Twenty questions at once: every ack well inside 3 s, every question answered once."""
    sent: list[Any] = []
    evs = [message_im(f"{QUESTION}（{i}）", channel=f"D0LOAD{i:04d}") for i in range(20)]
    threads = [threading.Thread(target=lambda e=e: sent.append(slack_app.sender.event(e))) for e in evs]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(s.status == 200 for s in sent) and max(s.seconds for s in sent) < 3
    slack_app.stub.wait_for("chat.postMessage", count=20, timeout=60)
    slack_app.wait_idle()
    assert sorted(c.params["channel"] for c in slack_app.stub.calls("chat.postMessage")) == sorted(
        e["channel"] for e in evs)


def test_settings_pointing_elsewhere_are_not_used(kb_settings, tmp_path) -> None:
    """SLACK_API_URL decides where the app talks: a second stub sees nothing of the first app."""
    with SlackStub() as one, SlackStub() as other:
        settings = make_slack_settings(kb_settings.data_dir, one, db_path=tmp_path / "a.db")
        with running_app(settings, one) as app:
            _ask_dm(app)
        assert one.calls("auth.test") and other.calls() == []


def test_failed_answer_in_an_assistant_thread_clears_the_status(slack_app: RunningApp) -> None:
    thread = new_ts()
    slack_app.stub.fail("chat.postMessage", 500, times=3)
    assert slack_app.sender.event(message_im(QUESTION, thread_ts=thread)).status == 200
    status = slack_app.stub.wait_for("assistant.threads.setStatus", count=2, timeout=30)
    slack_app.wait_idle()
    assert [c.params["status"] for c in status] == ["資料を確認しています…", ""]
    assert all(c.params["thread_ts"] == thread for c in status)
