"""Draft proposal records end to end: the real Bolt app over HTTP, the Web API stand-in, both databases.

A question is answered in a channel thread, its 「提案の下書きを作成」 button opens the prefilled
modal, the submission lands as a record, the business is told in its thread, the desk card
appears in the desk channel, staff move it through the desk's steps and the business hears about
each one.  Around that flow: inline validation errors, an ineligible individual flagged for staff
only, double submissions, Slack failing (500, 429, unreachable, a restart in between), a non-staff
user pressing staff buttons, App Home, and staff notes that never leave the desk channel.

The answer engine is the real one where a question is asked (the full flow); elsewhere the app
gets an engine that fails the test if anything asks it, since those paths must not need it.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from postgres_fixture import postgres_server, postgres_url  # noqa: F401 - fixtures
from records_fake_llm import fake_chat_model
from slack_helpers import (
    ASKER,
    DESK_CHANNEL,
    RunningApp,
    app_mention,
    block_actions,
    initial_state,
    make_slack_settings,
    message_im,
    message_shortcut,
    new_trigger_id,
    new_ts,
    press,
    running_app,
    view_submission,
)
from sqlalchemy import func, select

from bench.slack_stub import Call, SlackStub
from bot.city import load_city
from bot.config import Settings
from bot.db import utcnow
from bot.engine.answer import Answer
from bot.records import blocks as rb
from bot.records.models import OutboxMessage, ProposalRecord, StatusChange
from bot.records.views import local_year
from bot.slack.history import new_ref, record_turn

pytestmark = pytest.mark.slow

STAFF = "USTAFF001"
OTHER = "UOTHER001"
PUBLIC = "C0PUBLIC1"
DM_OF_ASKER = "D" + ASKER[1:]  # what the stub's conversations.open returns for ASKER
CITY = load_city(Path(__file__).resolve().parent.parent / "knowledge")
YEAR = local_year(utcnow())


class RefusingEngine:
    """Stands where the answer engine would: these paths must never ask it."""

    def answer(self, question: str, history: Any = None) -> Any:
        raise AssertionError("the records feature asked the answer engine")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'records.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def stub() -> Iterator[SlackStub]:
    with SlackStub() as s:
        yield s


def settings_for(data_dir: Path, stub: SlackStub, db_url: str, **overrides: Any) -> Settings:
    """Settings for one test; its own internal collection, so a shared knowledge base stays untouched."""
    return make_slack_settings(data_dir, stub, **{"DATABASE_URL": db_url, "DESK_STAFF_USER_IDS": STAFF,
                                                  "PPP_INTERNAL_COLLECTION": f"t_rec_{uuid.uuid4().hex[:8]}",
                                                  **overrides})


@contextmanager
def records_app(settings: Settings, stub: SlackStub, engine: Any = None) -> Iterator[RunningApp]:
    """The real app; its outbox worker polls and backs off in tenths of a second instead of seconds."""
    with running_app(settings, stub, engine=engine or RefusingEngine()) as app:
        worker = app.ctx.records.worker
        worker.poll_s, worker.base_delay_s, worker.max_delay_s = 0.1, 0.1, 0.4
        worker.kick()
        try:
            yield app
        finally:
            app.ctx.records.stop()


@pytest.fixture
def app(kb_settings: Settings, stub: SlackStub, db_url: str) -> Iterator[RunningApp]:
    """The records app over the session's knowledge base (citation titles come from its manifest)."""
    with records_app(settings_for(kb_settings.data_dir, stub, db_url), stub) as running:
        yield running


# --- driving the modal ------------------------------------------------------------------------------




def edit(view: dict, **changes: Any) -> dict:
    """State values after the user typed or chose ``changes`` (field name → value)."""
    values = initial_state(view)
    for name, value in changes.items():
        state = values[name]["value"]
        if state["type"] == "plain_text_input":
            state["value"] = value
        elif state["type"] == "checkboxes":
            state["selected_options"] = [{"value": v} for v in value]
        else:
            state["selected_option"] = {"value": value} if value else None
    return values


GOOD = {"org_name": "株式会社青森テック", "org_type": "corporation", "contact_name": "山田 花子",
        "email": "hanako@example.co.jp", "title": "青森駅前での自動運転バス実証", "summary": "駅前で実証したい。",
        "cost_burden": "self", "personal_info": "no", "third_party_ip": "no"}


def submit(app: RunningApp, view: dict, *, user: str = ASKER, **changes: Any) -> tuple[dict, Any]:
    payload = view_submission(rb.DRAFT_CALLBACK, edit(view, **changes), user=user,
                              private_metadata=view["private_metadata"])
    return payload, app.sender.interactive(payload)


def opened_view(stub: SlackStub, count: int = 1, callback: str = rb.DRAFT_CALLBACK) -> dict:
    call = stub.wait_for("views.open", count=count, where=lambda c: c.json_param("view")["callback_id"] == callback)
    return call[-1].json_param("view")


def draft_via_command(app: RunningApp, user: str = ASKER) -> dict:
    n = len(app.stub.calls("views.open"))
    assert app.sender.command("/ppp", "draft", user=user, response_url=app.stub.response_url()).status == 200
    return opened_view(app.stub, n + 1)


def draft_via_shortcut(app: RunningApp, text: str, *, user: str = ASKER, channel: str = PUBLIC) -> tuple[dict, dict]:
    message = {"type": "message", "user": user, "ts": new_ts(), "text": text}
    n = len(app.stub.calls("views.open"))
    assert app.sender.interactive(message_shortcut(rb.SHORTCUT_CALLBACK, message, user=user, channel=channel)).status == 200
    return app.stub.wait_for("views.open", count=n + 1)[-1].json_param("view"), message


def desk_cards(stub: SlackStub) -> list[Call]:
    return [c for c in stub.successful("chat.postMessage") if c.params.get("channel") == DESK_CHANNEL]


def wait_card(stub: SlackStub, count: int = 1) -> Call:
    return stub.wait_for("chat.postMessage", count=count, where=lambda c: c.params["channel"] == DESK_CHANNEL)[-1]


def records(app: RunningApp) -> list:
    return app.ctx.records.service.list(include_drafts=True)


def count_rows(app: RunningApp, model) -> int:
    with app.ctx.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def outbox_rows(app: RunningApp) -> list:
    with app.ctx.db.session() as s:
        return s.execute(select(OutboxMessage.kind, OutboxMessage.status, OutboxMessage.attempts,
                                OutboxMessage.last_error).order_by(OutboxMessage.id)).all()


def wait_delivered(app: RunningApp, timeout: float = 20.0) -> list:
    """Until every outbox row is marked sent (Slack's ok arrives before our commit)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = outbox_rows(app)
        if rows and all(r.status == "sent" for r in rows):
            return rows
        if time.monotonic() > deadline:
            raise TimeoutError(f"outbox not drained: {rows}")
        time.sleep(0.05)


def settle(app: RunningApp, seconds: float = 0.6) -> None:
    """Let listeners finish and the outbox worker make a few passes (for 'nothing happened' checks)."""
    app.wait_idle()
    time.sleep(seconds)
    app.wait_idle()


# --- the whole flow ---------------------------------------------------------------------------------


def test_question_to_card_to_status_change_to_proposer(tmp_path: Path, stub: SlackStub, db_url: str, engine,
                                                      kb_settings: Settings) -> None:
    settings = settings_for(kb_settings.data_dir, stub, db_url)
    with records_app(settings, stub, engine=engine) as app:
        question = ("株式会社青森テックの山田です。青森駅前で自動運転バスの実証実験をしたいのですが、"
                    "費用は誰が負担しますか？")
        mention = app_mention(question, channel=PUBLIC)
        assert app.sender.event(mention).status == 200
        answer = stub.wait_for("chat.postMessage", where=lambda c: c.params.get("thread_ts") == mention["ts"])[0]

        # The answer's button opens the modal, prefilled from the profile and the conversation.
        press_payload = press(answer.blocks, "draft_proposal", channel=PUBLIC, thread_ts=mention["ts"])
        assert app.sender.interactive(press_payload).status == 200
        view = opened_view(stub)
        prefill = rb.fields_from_state(initial_state(view))
        assert prefill.org_name == "株式会社青森テック" and prefill.org_type == "corporation"
        assert prefill.scheme == "trial" and prefill.contact_name == f"Test {ASKER}"
        assert prefill.email == f"{ASKER.lower()}@example.co.jp"
        assert "Q: " + question in prefill.qa_excerpt
        assert stub.calls("users.info")[0].params["user"] == ASKER

        # Submitting: the record is saved and the modal shows its number.
        _, sent = submit(app, view, title="青森駅前での自動運転バス実証", cost_burden="city_budget",
                         personal_info="yes", third_party_ip="no")
        assert sent.status == 200 and sent.json()["response_action"] == "update"
        rid = f"P-{YEAR}-0001"
        assert rid in json.dumps(sent.json()["view"], ensure_ascii=False)

        # The business is told in its own thread, with the guideline's notes.
        confirm = stub.wait_for("chat.postMessage", where=lambda c: c.params["channel"] == PUBLIC
                                and rid in c.params.get("text", ""))[0]
        assert confirm.params["thread_ts"] == mention["ts"]
        assert CITY.rules["confidentiality"].quote in confirm.block_text()
        assert CITY.rules["disclosure"].quote in confirm.block_text()

        # The desk card: fields, flags with citations, the conversation link, the desk's buttons.
        card = wait_card(stub)
        text = card.block_text()
        for needle in (rid, "株式会社青森テック", "実証実験サポート", CITY.rules["trial_budget"].quote,
                       CITY.rules["paid_work_procurement"].quote, CITY.rules["legal_compliance"].quote,
                       f"https://ppp-test.slack.com/archives/{PUBLIC}/p"):
            assert needle in text, needle
        labels = [b["text"]["text"] for b in card.blocks if b["type"] == "actions" for b in b["elements"]]
        assert labels == ["受付", "対話・調整中", "担当課照会", "実施決定", "見送り", "追加情報を依頼"]
        saved = records(app)[0]
        similar = app.ctx.precedents.similar(f"{saved.fields.title}\n{saved.fields.summary}", k=3,
                                             exclude_record_id=rid)
        assert ("似ている事例" in text) == bool(similar)
        posted_ts = next(m["ts"] for m in stub.messages if m["channel"] == DESK_CHANNEL)

        # Staff: 受付 → card updated in place, proposer told, audit row.
        app.sender.interactive(press(card.blocks, rb.ACTION_STATUS_PREFIX + "received", user=STAFF,
                                     channel=DESK_CHANNEL, message_ts=posted_ts))
        update = stub.wait_for("chat.update", where=lambda c: "*ステータス:* 受付" in c.block_text())[0]
        assert update.params["channel"] == DESK_CHANNEL and update.params["ts"] == posted_ts
        told = stub.wait_for("chat.postMessage", where=lambda c: c.params["channel"] == PUBLIC
                             and "ステータス: 受付" in c.params.get("text", ""))[0]
        assert told.params["thread_ts"] == mention["ts"]

        # Staff: 見送り asks for a reason; the reason goes to the business, the card shows 見送り.
        app.sender.interactive(press(card.blocks, rb.ACTION_STATUS_PREFIX + "declined", user=STAFF,
                                     channel=DESK_CHANNEL, message_ts=posted_ts))
        note_view = opened_view(stub, callback=rb.STATUS_NOTE_CALLBACK)
        reason = "今年度は同種の実証が予定されているため、今回は見送ります。"
        sent = app.sender.interactive(view_submission(
            rb.STATUS_NOTE_CALLBACK, {"note": {"value": {"type": "plain_text_input", "value": reason}}},
            user=STAFF, private_metadata=note_view["private_metadata"]))
        assert sent.status == 200
        stub.wait_for("chat.update", where=lambda c: "*ステータス:* 見送り" in c.block_text())
        declined = stub.wait_for("chat.postMessage", where=lambda c: reason in c.block_text())[0]
        assert declined.params["channel"] == DM_OF_ASKER and not declined.params.get("thread_ts")
        stub.wait_for("chat.postMessage", where=lambda c: c.params["channel"] == PUBLIC
                      and c.params.get("thread_ts") == mention["ts"] and "DM" in c.params.get("text", ""))

        history = app.ctx.records.service.history(rid)
        assert [(h["from_status"], h["to_status"], h["actor"]) for h in history] == [
            ("", "draft", ASKER), ("draft", "submitted", ASKER), ("submitted", "received", STAFF),
            ("received", "declined", STAFF)]
        assert history[-1]["note"] == reason

        # A staff note in the card's thread stays in the desk channel.
        before = len([c for c in stub.calls("chat.postMessage") if c.params["channel"] == PUBLIC])
        note = "社内メモ: 交通政策課の見解では予算化は難しい"
        app.sender.event(message_im(note, user=STAFF, channel=DESK_CHANNEL, thread_ts=posted_ts,
                                    channel_type="channel"))
        settle(app)
        after = [c for c in stub.calls("chat.postMessage") if c.params["channel"] == PUBLIC]
        assert len(after) == before
        assert not any(note in json.dumps(c.params, ensure_ascii=False) for c in stub.calls()
                       if c.params.get("channel") != DESK_CHANNEL)


def test_llm_prefill_opens_a_loading_modal_then_fills_it(tmp_path: Path, stub: SlackStub) -> None:
    reply = json.dumps({"org_name": "株式会社ゆきテック", "title": "除雪ロボットの実証", "scheme": "trial",
                        "summary": "歩道の除雪をロボットで実証します。"}, ensure_ascii=False)
    with fake_chat_model(reply) as model:
        settings = settings_for(tmp_path / "data", stub, f"sqlite:///{tmp_path / 'llm.db'}",
                                LLM_MODEL="openai:gpt-4o-mini", LLM_API_KEY="sk-test", LLM_BASE_URL=model.url)
        with records_app(settings, stub) as app:
            view, _ = draft_via_shortcut(app, "ゆきテックです。歩道の除雪ロボットを試したいです。")
            assert view["callback_id"] == rb.INFO_CALLBACK  # the trigger is used at once; the model may be slow
            loading = stub.calls("views.open")[0]
            filled = stub.wait_for("views.update")[0]
            modal = filled.json_param("view")
            assert modal["callback_id"] == rb.DRAFT_CALLBACK and filled.params["view_id"].startswith("V")
            got = rb.fields_from_state(initial_state(modal))
            assert (got.org_name, got.title, got.scheme) == ("株式会社ゆきテック", "除雪ロボットの実証", "trial")
            assert got.contact_name == f"Test {ASKER}"  # the profile still fills its fields
            assert "歩道の除雪ロボット" in json.dumps(model.requests[0], ensure_ascii=False)
            assert loading.params["trigger_id"]


# --- validation and pre-screen ----------------------------------------------------------------------


def test_no_personal_data_in_the_records_logs(app: RunningApp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.records")
    app.stub.fail("chat.postMessage", 500, times=3)  # the failure path logs too
    view = draft_via_command(app)
    secret = {**GOOD, "contact_name": "秘密 花子", "email": "secret.hanako@example.co.jp",
              "summary": "社外秘の構想です", "phone": "017-999-1234"}
    submit(app, view, **secret)
    wait_card(app.stub)
    wait_delivered(app)
    records_logs = [r for r in caplog.records if r.name.startswith("bot.records")]
    assert any("P-" in r.getMessage() for r in records_logs)  # it does log, by record number
    text = "\n".join(r.getMessage() for r in records_logs)
    for value in ("秘密 花子", "secret.hanako", "社外秘", "017-999-1234", "株式会社青森テック", ASKER):
        assert value not in text


def test_invalid_and_missing_fields_get_inline_japanese_errors(app: RunningApp) -> None:
    view = draft_via_command(app)
    assert rb.fields_from_state(initial_state(view)).contact_name == f"Test {ASKER}"
    _, sent = submit(app, view, email="hanako@@example", phone="12-34", org_name="", title="")
    body = sent.json()
    assert body["response_action"] == "errors"
    assert body["errors"]["email"].startswith("メールアドレスの形式が正しくありません")
    assert body["errors"]["phone"].startswith("電話番号の形式が正しくありません")
    assert body["errors"]["org_name"] == "団体名（法人名・屋号）を入力してください。"
    assert body["errors"]["title"] == "提案の件名を入力してください。"
    settle(app, 0.3)
    assert records(app) == [] and desk_cards(app.stub) == []


def test_english_business_gets_english_modal_errors_and_confirmation(app: RunningApp) -> None:
    view, message = draft_via_shortcut(app, "We are Aomori Mobility Inc. and would like to run a pilot with "
                                            "self-driving buses at the station.")
    prefill = rb.fields_from_state(initial_state(view))
    assert view["submit"]["text"] == "Submit" and prefill.org_name == "Aomori Mobility Inc."
    assert prefill.scheme == "trial" and prefill.title.startswith("We are Aomori Mobility Inc.")
    _, sent = submit(app, view, email="not-an-email")
    assert sent.json()["errors"]["email"].startswith("This email address does not look right")
    _, sent = submit(app, view, email="ken@aomori-mobility.example", summary="Pilot at Aomori station.",
                     cost_burden="self", personal_info="no", third_party_ip="no")
    assert sent.json()["response_action"] == "update"
    confirm = app.stub.wait_for("chat.postMessage", where=lambda c: c.params["channel"] == PUBLIC)[0]
    assert confirm.params["thread_ts"] == message["ts"]
    assert "We have received your proposal" in confirm.params["text"]
    assert CITY.rules["confidentiality"].quote in confirm.block_text()  # quoted in the guideline's words


def test_individual_is_flagged_for_staff_and_never_told_no(app: RunningApp) -> None:
    view = draft_via_command(app)
    _, sent = submit(app, view, **{**GOOD, "org_type": "individual", "org_name": "山田 太郎"})
    assert sent.json()["response_action"] == "update"  # the bot does not reject anyone
    card = wait_card(app.stub)
    assert CITY.rules["individual_not_eligible"].quote in card.block_text()
    assert "青森市公民連携デスクガイドライン › 留意事項, p. 15" in card.block_text()
    confirm = app.stub.wait_for("chat.postMessage", where=lambda c: c.params["channel"] == ASKER)[0]
    assert CITY.rules["individual_not_eligible"].quote not in confirm.block_text()
    assert "対象外" not in confirm.block_text()
    # Without a thread the business hears in its DM with the app, and that becomes its thread.
    assert records(app)[0].thread_ts == next(m["ts"] for m in app.stub.messages if m["channel"] == ASKER)


# --- idempotency ------------------------------------------------------------------------------------


def stored_answer(app: RunningApp, *, channel: str = PUBLIC, thread: str | None = None, user: str = ASKER,
                  question: str = "実証実験をしたい") -> tuple[str, str]:
    """An answer the app posted in a thread, stored as the listeners store it: (draft button value, thread)."""
    thread = thread or new_ts()
    ref = new_ref()
    record_turn(app.ctx.db, ref=ref, channel=channel, thread_ts=thread, user=user, ts=thread, surface="mention",
                answer=Answer(question=question, text="回答です。", category="process", abstained=False),
                language="ja", answer_ts=new_ts())
    return json.dumps({"turn": ref, "channel": channel, "thread_ts": thread, "question": question,
                       "language": "ja"}), thread


def test_double_submit_retry_and_reopened_modal_make_one_record(app: RunningApp) -> None:
    value, thread = stored_answer(app)
    first_open = block_actions("draft_proposal", value=value, channel=PUBLIC, thread_ts=thread)
    app.sender.interactive(first_open)
    view_a = opened_view(app.stub, 1)
    app.sender.interactive(block_actions("draft_proposal", value=value, channel=PUBLIC, thread_ts=thread))
    view_b = opened_view(app.stub, 2)  # the same button pressed again: a second modal

    payload, sent = submit(app, view_a, **GOOD)
    assert sent.json()["response_action"] == "update"
    again = app.sender.interactive(payload, headers={"X-Slack-Retry-Num": "1"})  # a retry of the same submit
    assert again.status == 200
    _, other = submit(app, view_b, **GOOD)  # the second modal for the same thread
    assert f"P-{YEAR}-0001" in json.dumps(other.json(), ensure_ascii=False)
    wait_card(app.stub)
    settle(app)
    assert len(records(app)) == 1 and len(desk_cards(app.stub)) == 1
    assert len([c for c in app.stub.successful("chat.postMessage") if c.params["channel"] == PUBLIC]) == 1

    # After submission the button says where things stand instead of starting over.
    app.sender.interactive(block_actions("draft_proposal", value=value, channel=PUBLIC, thread_ts=thread))
    info = app.stub.wait_for("views.open", count=3)[-1].json_param("view")
    assert info["callback_id"] == rb.INFO_CALLBACK and f"P-{YEAR}-0001" in json.dumps(info, ensure_ascii=False)


def test_save_as_draft_then_finish_from_app_home(app: RunningApp) -> None:
    view = draft_via_command(app)
    values = edit(view, title="除雪ロボットの実証（途中）", org_name="株式会社ゆきテック")
    vid = "V0DRAFT0001"
    action = {"type": "block_actions", "user": {"id": ASKER, "name": "asker", "team_id": "T0001"},
              "api_app_id": "A0001", "token": "legacy-verification-token", "trigger_id": new_trigger_id(),
              "team": {"id": "T0001", "domain": "ppp-test"}, "container": {"type": "view", "view_id": vid},
              "view": {**view, "id": vid, "hash": "h1", "state": {"values": values}},
              "actions": [{"action_id": rb.ACTION_SAVE_DRAFT, "block_id": "draft_actions", "type": "button",
                           "value": "save", "action_ts": str(time.time())}]}
    assert app.sender.interactive(action).status == 200
    updated = app.stub.wait_for("views.update")[0]
    assert updated.params["view_id"] == vid
    assert "下書きを保存しました" in json.dumps(updated.json_param("view"), ensure_ascii=False)
    (draft,) = records(app)
    assert draft.status == "draft" and draft.record_id is None and draft.fields.org_name == "株式会社ゆきテック"
    settle(app, 0.3)
    assert desk_cards(app.stub) == []  # nothing reaches the desk before submission

    home = {"type": "app_home_opened", "user": ASKER, "channel": "D0ASKER01", "tab": "home", "event_ts": new_ts()}
    app.sender.event(home)
    published = app.stub.wait_for("views.publish")[0]
    home_view = published.json_param("view")
    assert published.params["user_id"] == ASKER and "除雪ロボットの実証（途中）" in json.dumps(home_view, ensure_ascii=False)
    app.sender.interactive(press(home_view["blocks"], rb.ACTION_EDIT_DRAFT, user=ASKER))
    continued = opened_view(app.stub, 2)
    assert json.loads(continued["private_metadata"])["rid"] == draft.pk
    _, sent = submit(app, continued, **{**GOOD, "title": "除雪ロボットの実証"})
    assert sent.json()["response_action"] == "update"
    wait_card(app.stub)
    (done,) = records(app)
    assert done.pk == draft.pk and done.record_id == f"P-{YEAR}-0001"

    # Someone else cannot open that draft through a forged button value.
    app.sender.interactive(block_actions(rb.ACTION_EDIT_DRAFT, value=str(draft.pk), user=OTHER))
    refused = app.stub.wait_for("views.open", count=3)[-1].json_param("view")
    assert refused["callback_id"] == rb.INFO_CALLBACK


def test_app_home_business_sees_own_records_staff_see_the_queue(app: RunningApp) -> None:
    for user, title in ((ASKER, "提案A"), (OTHER, "提案B")):
        view = draft_via_command(app, user=user)
        submit(app, view, user=user, **{**GOOD, "title": title})
    wait_card(app.stub, 2)
    app.sender.event({"type": "app_home_opened", "user": ASKER, "channel": "D1", "tab": "home",
                      "event_ts": new_ts()})
    mine = json.dumps(app.stub.wait_for("views.publish", where=lambda c: c.params["user_id"] == ASKER)[0]
                      .json_param("view"), ensure_ascii=False)
    assert "提案A" in mine and "提案B" not in mine and "提出済み（受付待ち）" in mine
    app.sender.event({"type": "app_home_opened", "user": STAFF, "channel": "D2", "tab": "home",
                      "event_ts": new_ts()})
    queue = app.stub.wait_for("views.publish", where=lambda c: c.params["user_id"] == STAFF)[0].json_param("view")
    assert "提案A" in json.dumps(queue, ensure_ascii=False) and "提案B" in json.dumps(queue, ensure_ascii=False)
    counts = next(b for b in queue["blocks"] if b.get("block_id") == "records_home_counts")
    assert {"type": "mrkdwn", "text": "*提出済み（受付待ち）*\n2件"} in counts["fields"]


# --- staff only -------------------------------------------------------------------------------------


def test_non_staff_pressing_staff_buttons_changes_nothing(app: RunningApp) -> None:
    view = draft_via_command(app)
    submit(app, view, **GOOD)
    card = wait_card(app.stub)
    card_ts = next(m["ts"] for m in app.stub.messages if m["channel"] == DESK_CHANNEL)
    history_before = count_rows(app, StatusChange)
    posts_before = len(app.stub.calls("chat.postMessage"))

    for user in (ASKER, OTHER):  # the proposer is not staff either
        app.sender.interactive(press(card.blocks, rb.ACTION_STATUS_PREFIX + "approved", user=user,
                                     channel=DESK_CHANNEL, message_ts=card_ts))
        refusal = app.stub.wait_for("chat.postEphemeral", where=lambda c, u=user: c.params["user"] == u)[0]
        assert "職員のみ" in refusal.params["text"]
    # A forged submission of the reason modal is refused on the server too.
    forged = view_submission(rb.STATUS_NOTE_CALLBACK, {"note": {"value": {"type": "plain_text_input",
                                                                          "value": "却下"}}},
                             user=OTHER, private_metadata=json.dumps({"rid": f"P-{YEAR}-0001", "to": "declined"}))
    body = app.sender.interactive(forged).json()
    assert body["response_action"] == "errors" and "職員のみ" in body["errors"]["note"]
    settle(app)
    assert records(app)[0].status == "submitted"
    assert count_rows(app, StatusChange) == history_before
    assert app.stub.calls("chat.update") == []
    assert all(c.json_param("view")["callback_id"] != rb.STATUS_NOTE_CALLBACK for c in app.stub.calls("views.open"))
    assert len(app.stub.calls("chat.postMessage")) == posts_before


def test_staff_from_the_user_group_may_act(tmp_path: Path, stub: SlackStub, db_url: str) -> None:
    settings = settings_for(tmp_path / "data", stub, db_url, DESK_STAFF_USER_IDS="",
                            DESK_STAFF_USERGROUP_ID="S0DESK")
    stub.usergroups["S0DESK"] = ["UGROUP001"]
    with records_app(settings, stub) as app:
        view = draft_via_command(app)
        submit(app, view, **GOOD)
        card = wait_card(stub)
        card_ts = next(m["ts"] for m in stub.messages if m["channel"] == DESK_CHANNEL)
        app.sender.interactive(press(card.blocks, rb.ACTION_STATUS_PREFIX + "in_dialogue", user="UGROUP001",
                                     channel=DESK_CHANNEL, message_ts=card_ts))
        stub.wait_for("chat.update", where=lambda c: "対話・調整中" in c.block_text())
        assert records(app)[0].status == "in_dialogue"


# --- Slack failing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["500", "429"])
def test_desk_post_failing_keeps_the_record_and_the_outbox_delivers_later(app: RunningApp, failure: str) -> None:
    if failure == "500":
        app.stub.fail("chat.postMessage", 500, times=10)
    else:
        app.stub.rate_limit("chat.postMessage", retry_after=1, times=6)
    view = draft_via_command(app)
    _, sent = submit(app, view, **GOOD)
    assert sent.status == 200 and sent.json()["response_action"] == "update"  # saved before any post
    assert records(app)[0].record_id == f"P-{YEAR}-0001"
    card = wait_card(app.stub)
    app.stub.wait_for("chat.postMessage", where=lambda c: c.params["channel"] == ASKER)
    failed = [c for c in app.stub.calls("chat.postMessage") if c.status != 200]
    assert len(failed) == (10 if failure == "500" else 6)
    rows = wait_delivered(app)
    assert max(r.attempts for r in rows) >= 2
    assert f"P-{YEAR}-0001" in card.params["text"]
    settle(app)
    assert len(desk_cards(app.stub)) == 1  # delivered once, not once per attempt


def test_pending_posts_survive_a_restart(tmp_path: Path, stub: SlackStub, db_url: str) -> None:
    settings = settings_for(tmp_path / "data", stub, db_url)
    stub.fail("chat.postMessage", 503, times=10_000)  # Slack is down
    with records_app(settings, stub) as first:
        view = draft_via_command(first)
        _, sent = submit(first, view, **GOOD)
        assert sent.json()["response_action"] == "update"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with first.ctx.db.session() as s:
                tried = s.scalar(select(func.min(OutboxMessage.attempts)))
            if tried and tried >= 1:
                break
            time.sleep(0.1)
        with first.ctx.db.session() as s:
            pending = s.execute(select(OutboxMessage.kind, OutboxMessage.status, OutboxMessage.last_error)).all()
        assert sorted(k for k, _, _ in pending) == ["business_message", "desk_card"]
        assert {st for _, st, _ in pending} == {"pending"} and all("503" in (e or "") for _, _, e in pending)
    # The process is gone; Slack comes back; a new process starts on the same database.
    stub.reset()  # forgets the queued failures
    with records_app(settings, stub) as second:
        card = wait_card(stub)
        assert f"P-{YEAR}-0001" in card.params["text"]
        stub.wait_for("chat.postMessage", where=lambda c: c.params["channel"] == ASKER)
        wait_delivered(second)
        assert count_rows(second, ProposalRecord) == 1


def test_database_hiccup_keeps_the_modal_open_with_a_clear_message(app: RunningApp) -> None:
    view = draft_via_command(app)
    with app.ctx.db.engine.begin() as conn:  # the table vanishes for a moment (a failed migration, a lock)
        conn.exec_driver_sql("ALTER TABLE proposal_records RENAME TO proposal_records_away")
    payload, sent = submit(app, view, **GOOD)
    body = sent.json()
    assert body["response_action"] == "errors" and "一時的な障害" in body["errors"]["title"]
    assert "入力内容はこのまま残っています" in body["errors"]["title"]
    with app.ctx.db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE proposal_records_away RENAME TO proposal_records")
    again = app.sender.interactive(payload)  # the same modal, submitted again
    assert again.json()["response_action"] == "update"
    wait_card(app.stub)
    assert len(records(app)) == 1


# --- hostile text and private news ------------------------------------------------------------------

HOSTILE = "<!channel> <https://evil.example/login|青森市公式: 要ログイン>"


def _mrkdwn_texts(node: Any) -> list[str]:
    """Every text Slack parses for mentions and links: mrkdwn objects (plain_text is shown as is)."""
    out: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            out.append(node["text"])
        for value in node.values():
            out += _mrkdwn_texts(value)
    elif isinstance(node, list):
        for value in node:
            out += _mrkdwn_texts(value)
    return out


def test_hostile_title_is_inert_in_the_card_text_and_blocks(app: RunningApp) -> None:
    view = draft_via_command(app)
    submit(app, view, **{**GOOD, "title": HOSTILE, "summary": HOSTILE, "org_name": "A&B <@U0ALL> 株式会社"})
    card = wait_card(app.stub)
    card_ts = next(m["ts"] for m in app.stub.messages if m["channel"] == DESK_CHANNEL)
    app.sender.interactive(press(card.blocks, rb.ACTION_STATUS_PREFIX + "received", user=STAFF,
                                 channel=DESK_CHANNEL, message_ts=card_ts))
    update = app.stub.wait_for("chat.update")[0]
    for call in (card, update):
        text = call.params["text"]
        assert "<!channel>" not in text and "<https://evil" not in text, text
        assert "&lt;!channel&gt; &lt;https://evil.example/login|青森市公式: 要ログイン&gt;" in text
        parsed = _mrkdwn_texts(call.blocks)
        assert parsed and not any("<!channel>" in t or "<https://evil" in t or "<@U0ALL>" in t for t in parsed)
        assert any("A&amp;B &lt;@U0ALL&gt;" in t for t in parsed)
    for call in app.stub.calls("chat.postMessage"):  # the business's own confirmation too
        assert "<!channel>" not in call.params.get("text", "")
        assert not any("<!channel>" in t for t in _mrkdwn_texts(call.blocks))


def test_decline_reason_goes_to_the_proposer_privately_not_to_the_public_thread(app: RunningApp) -> None:
    view, message = draft_via_shortcut(app, "株式会社青森テックです。駅前で実証実験をしたいです。", channel=PUBLIC)
    submit(app, view, **GOOD)
    card = wait_card(app.stub)
    app.stub.wait_for("chat.postMessage", where=lambda c: c.params["channel"] == PUBLIC)  # the confirmation
    card_ts = next(m["ts"] for m in app.stub.messages if m["channel"] == DESK_CHANNEL)
    reasons = {"declined": "他社の類似提案と競合するため見送ります。", "info_requested": "概算費用の内訳をお送りください。"}
    for n, (status, note) in enumerate(reasons.items(), 1):
        if status == "info_requested":  # 見送り is final in the desk's steps; ask on a fresh record
            view, message = draft_via_shortcut(app, "ゆきテックです。除雪ロボットを試したいです。", channel=PUBLIC)
            submit(app, view, **{**GOOD, "title": "除雪ロボット"})
            card = wait_card(app.stub, 2)
            card_ts = [m["ts"] for m in app.stub.messages if m["channel"] == DESK_CHANNEL][-1]
        app.sender.interactive(press(card.blocks, rb.ACTION_STATUS_PREFIX + status, user=STAFF,
                                     channel=DESK_CHANNEL, message_ts=card_ts))
        note_view = opened_view(app.stub, n, callback=rb.STATUS_NOTE_CALLBACK)
        app.sender.interactive(view_submission(
            rb.STATUS_NOTE_CALLBACK, {"note": {"value": {"type": "plain_text_input", "value": note}}},
            user=STAFF, private_metadata=note_view["private_metadata"]))
        private = app.stub.wait_for("chat.postMessage", where=lambda c, note=note: note in c.block_text())[0]
        assert private.params["channel"] == DM_OF_ASKER and not private.params.get("thread_ts")
        opened = app.stub.calls("conversations.open")[-1]
        assert opened.params["users"] == ASKER
        pointer = app.stub.wait_for("chat.postMessage", where=lambda c, ts=message["ts"]: c.params["channel"] == PUBLIC
                                    and c.params.get("thread_ts") == ts and "DM" in c.params.get("text", ""))
        assert len(pointer) == 1
    wait_delivered(app)
    settle(app)
    public = [c for c in app.stub.calls() if c.params.get("channel") == PUBLIC]
    dumped = json.dumps([c.params for c in public], ensure_ascii=False)
    for note in reasons.values():
        assert note not in dumped
    assert "見送り" not in dumped and "追加情報" not in dumped


# --- origin derived server-side ---------------------------------------------------------------------


def test_forged_button_value_cannot_read_the_desk_thread_into_a_modal(app: RunningApp) -> None:
    staff_note = "社内メモ: この事業者は過去に不正があった"
    desk_thread = new_ts()
    app.stub.messages.append({"type": "message", "channel": DESK_CHANNEL, "ts": desk_thread, "user": STAFF,
                              "text": staff_note})
    app.stub.messages.append({"type": "message", "channel": DESK_CHANNEL, "ts": new_ts(), "thread_ts": desk_thread,
                              "user": ASKER, "text": staff_note + "（転記）"})
    value, thread = stored_answer(app)
    forged = json.dumps({"turn": json.loads(value)["turn"], "channel": DESK_CHANNEL, "thread_ts": desk_thread,
                         "question": staff_note, "language": "ja"})
    app.sender.interactive(block_actions("draft_proposal", value=forged, channel=PUBLIC, thread_ts=thread))
    view = opened_view(app.stub)
    assert staff_note not in json.dumps(view, ensure_ascii=False)
    assert not any(c.params.get("channel") == DESK_CHANNEL for c in app.stub.calls("conversations.replies"))
    meta = json.loads(view["private_metadata"])
    assert (meta["ch"], meta["ts"]) == (PUBLIC, thread)  # from the stored turn, not from the value
    assert "実証実験をしたい" in rb.fields_from_state(initial_state(view)).qa_excerpt

    # A value naming no stored turn opens a draft without any thread.
    app.sender.interactive(block_actions("draft_proposal", value=json.dumps(
        {"turn": "f" * 32, "channel": DESK_CHANNEL, "thread_ts": desk_thread}), channel=PUBLIC))
    meta = json.loads(opened_view(app.stub, 2)["private_metadata"])
    assert meta["ch"] is None and meta["ts"] is None and meta["idem"] is None


def test_forged_private_metadata_is_not_trusted(app: RunningApp) -> None:
    view = draft_via_command(app)
    desk_thread = new_ts()
    for forged in (json.dumps({"rid": None, "ch": DESK_CHANNEL, "ts": desk_thread, "lang": "ja",
                               "idem": f"thread:{ASKER}:{DESK_CHANNEL}:{desk_thread}"}),
                   json.dumps({**json.loads(view["private_metadata"]), "ch": DESK_CHANNEL, "ts": desk_thread})):
        payload = view_submission(rb.DRAFT_CALLBACK, edit(view, **GOOD), private_metadata=forged)
        assert app.sender.interactive(payload).json()["response_action"] == "update"
    wait_card(app.stub, 2)
    wait_delivered(app)
    for record in records(app):
        assert record.channel_id != DESK_CHANNEL and record.thread_ts != desk_thread
    assert not any(c.params.get("thread_ts") == desk_thread for c in app.stub.calls("chat.postMessage"))
    # Metadata sealed for one user (with its thread and key) means nothing in another user's submission.
    value, thread = stored_answer(app)
    app.sender.interactive(block_actions("draft_proposal", value=value, channel=PUBLIC, thread_ts=thread))
    asker_meta = opened_view(app.stub, 2)["private_metadata"]
    other = view_submission(rb.DRAFT_CALLBACK, edit(view, **GOOD), user=OTHER, private_metadata=asker_meta)
    assert app.sender.interactive(other).json()["response_action"] == "update"
    mine = [r for r in records(app) if r.proposer_user_id == OTHER]
    assert len(mine) == 1 and mine[0].thread_ts != thread
