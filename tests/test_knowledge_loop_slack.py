"""The knowledge loop in Slack, end to end: the real Bolt app over signed HTTP, the Web API stand-in.

A business asks what the documents do not cover, hands off, staff reply in the desk thread and
approve the reply with 「回答として公開」; the business hears in its thread and the next business
asking a paraphrase is answered from the approved answer, cited with its approval date.  Around it:
a non-staff approval changes nothing, App Home groups the gaps with counts, the weekly digest holds
masked text only and is posted once, staff notes and drafts never reach a business, a document
added from Slack is previewed, cited by page and removed, and the question log gets each outcome.

The knowledge base is the guideline alone, ingested once per module and copied per test, so an
approval in one test never reaches another (nor the session's shared store).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from _docs import encrypted_pdf, text_pdf
from slack_helpers import (
    ASKER,
    DESK_CHANNEL,
    RunningApp,
    block_actions,
    event_callback,
    initial_state,
    make_slack_settings,
    message_im,
    message_shortcut,
    new_ts,
    press,
    running_app,
    view_submission,
)
from sqlalchemy import select

from bench.slack_payloads import view_closed
from bench.slack_stub import Call, SlackStub, _texts
from bot.config import Settings
from bot.db import Database
from bot.knowledge_loop import documents
from bot.knowledge_loop.desk_answers import FILES_PREFIX, DeskAnswers
from bot.knowledge_loop.log import QuestionLog
from bot.knowledge_loop.models import DeskAnswer, LoopAudit, QuestionLogEntry
from bot.knowledge_loop.slack import digest, files, publish, runtime
from tests.conftest import guideline_kb

pytestmark = pytest.mark.slow

STAFF = "USTAFF001"
OTHER = "UOTHER001"
ASKER2 = "UASKER002"
DM1, DM2 = "D0ASKER01", "D0ASKER02"
UNANSWERED = "事前相談に料金はかかりますか？"
PARAPHRASE = "相談するのにお金はかかりますか？"
STAFF_REPLY = "事前相談は無料です。お気軽にご相談ください。"


@pytest.fixture(scope="module")
def base_kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The guideline knowledge base, ingested once; tests copy the data dir."""
    root = tmp_path_factory.mktemp("loopslack")
    guideline_kb(root)
    return root


@pytest.fixture
def stub() -> Iterator[SlackStub]:
    with SlackStub() as s:
        yield s


@pytest.fixture
def loop_settings(base_kb: Path, tmp_path: Path, stub: SlackStub) -> Settings:
    data = tmp_path / "data"
    shutil.copytree(base_kb / "data", data)
    return make_slack_settings(data, stub, db_path=tmp_path / "loop.db", PPP_KNOWLEDGE_DIR=base_kb / "knowledge",
                               DESK_STAFF_USER_IDS=STAFF)


@contextmanager
def loop_app(settings: Settings, stub: SlackStub) -> Iterator[RunningApp]:
    from bot.engine.engine import Engine

    with running_app(settings, stub, engine=Engine(settings)) as app:
        yield app  # running_app stops every feature's threads


@pytest.fixture
def app(loop_settings: Settings, stub: SlackStub) -> Iterator[RunningApp]:
    with loop_app(loop_settings, stub) as running:
        yield running


# --- driving -------------------------------------------------------------------------------------------


def ask(app: RunningApp, text: str, *, user: str = ASKER, channel: str = DM1) -> tuple[dict, Call]:
    event = message_im(text, user=user, channel=channel)
    assert app.sender.event(event).status == 200
    reply = app.stub.wait_for("chat.postMessage", timeout=30, where=lambda c: c.params.get("channel") == channel
                              and c.params.get("thread_ts") == event["ts"] and bool(c.blocks))[0]
    app.wait_idle()
    return event, reply


def log_rows(app: RunningApp) -> list[QuestionLogEntry]:
    with app.ctx.db.session() as s:
        return list(s.scalars(select(QuestionLogEntry).order_by(QuestionLogEntry.id)))


def opened(stub: SlackStub, callback: str, count: int = 1, method: str = "views.open") -> dict:
    calls = stub.wait_for(method, count=count, where=lambda c: c.json_param("view").get("callback_id") == callback)
    return calls[-1].json_param("view")


def updated_text(stub: SlackStub, needle: str) -> str:
    call = stub.wait_for("views.update", where=lambda c: needle in json.dumps(c.json_param("view"), ensure_ascii=False))
    return json.dumps(call[-1].json_param("view"), ensure_ascii=False)


def home_view(app: RunningApp, user: str) -> Call:
    n = len([c for c in app.stub.calls("views.publish") if c.params.get("user_id") == user])
    event = {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home", "event_ts": new_ts()}
    assert app.sender.event_body(event_callback(event)).status == 200
    return app.stub.wait_for("views.publish", count=n + 1,
                             where=lambda c: c.params.get("user_id") == user)[-1]


def view_text(call: Call) -> str:
    """All text of a published or updated view."""
    return "\n".join(_texts(call.json_param("view")))


def hand_off(app: RunningApp, answer: Call, event: dict, channel: str = DM1) -> str:
    """Press 「担当者に相談する」; returns the ts of the desk-channel post."""
    posted = len([m for m in app.stub.messages if m["channel"] == DESK_CHANNEL])
    app.sender.interactive(press(answer.blocks, "handoff", channel=channel, thread_ts=event["ts"]))
    app.stub.wait_for("chat.postMessage", count=posted + 1, where=lambda c: c.params.get("channel") == DESK_CHANNEL)
    app.wait_idle()
    return [m["ts"] for m in app.stub.messages if m["channel"] == DESK_CHANNEL][-1]


def outside_desk(stub: SlackStub) -> str:
    """Everything the app sent anywhere but the desk channel and staff modals."""
    return "\n".join(json.dumps(c.params, ensure_ascii=False) for c in stub.calls()
                     if c.params.get("channel") != DESK_CHANNEL and not c.method.startswith("views."))


# --- the whole loop ----------------------------------------------------------------------------------


def test_unanswered_question_to_handoff_to_approval_to_the_next_business(app: RunningApp) -> None:
    stub = app.stub
    event, answer = ask(app, UNANSWERED)
    entry = log_rows(app)[0]
    assert entry.outcome == "abstained" and entry.vector is not None and entry.surface == "dm"

    desk_ts = hand_off(app, answer, event)
    assert log_rows(app)[0].handed_off

    # Staff reply in the desk thread, then 「回答として公開」 on that reply.
    reply = {"type": "message", "user": STAFF, "ts": new_ts(), "thread_ts": desk_ts, "text": STAFF_REPLY}
    assert app.sender.interactive(message_shortcut(publish.SHORTCUT, reply, user=STAFF, channel=DESK_CHANNEL)).status == 200
    view = opened(stub, publish.MODAL)
    values = initial_state(view)
    assert values["question"]["value"]["value"] == "事前相談に料金はかかりますか?"
    assert values["answer"]["value"]["value"] == STAFF_REPLY
    sent = app.sender.interactive(view_submission(publish.MODAL, values, user=STAFF,
                                                  private_metadata=view["private_metadata"]))
    assert sent.status == 200 and sent.json()["response_action"] == "update"
    today = datetime.now(UTC).date().isoformat()
    title = f"公民連携デスク回答（{today} 承認）"
    assert "DA-0001" in updated_text(stub, "DA-0001")
    assert log_rows(app)[0].addressed_by == "DA-0001"  # the handed-off question leaves the gap list

    # The business is told in its own thread.
    told = stub.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == DM1
                         and "公開しました" in c.params.get("text", ""))[0]
    assert told.params["thread_ts"] == event["ts"] and STAFF_REPLY in told.params["text"] and title in told.params["text"]

    # The next business asking a paraphrase gets the approved answer, cited with its date.
    _, second = ask(app, PARAPHRASE, user=ASKER2, channel=DM2)
    text = second.block_text()
    assert "無料" in text and title in text
    with app.ctx.db.session() as s:
        assert [(a.action, a.actor) for a in s.scalars(select(LoopAudit))] == [("approve", STAFF)]
        assert s.scalar(select(DeskAnswer.source_turn_ref)) == entry.turn_ref


def test_staff_answer_from_the_handoff_post_itself(app: RunningApp) -> None:
    stub = app.stub
    event, answer = ask(app, UNANSWERED)
    hand_off(app, answer, event)
    post = [c for c in stub.calls("chat.postMessage") if c.params.get("channel") == DESK_CHANNEL][-1]

    # Non-staff pressing it are refused and no modal opens.
    app.sender.interactive(press(post.blocks, publish.ACTION_HANDOFF, user=OTHER, channel=DESK_CHANNEL,
                                 response_url=stub.response_url("other")))
    assert "職員のみ" in stub.wait_for("chat.postEphemeral", where=lambda c: c.params.get("user") == OTHER)[0].params["text"]
    assert not [c for c in stub.calls("views.open") if c.json_param("view").get("callback_id") == publish.MODAL]

    # Staff: the modal has the business's question and an empty answer to type, then it is published.
    app.sender.interactive(press(post.blocks, publish.ACTION_HANDOFF, user=STAFF, channel=DESK_CHANNEL))
    view = opened(stub, publish.MODAL)
    values = initial_state(view)
    assert values["question"]["value"]["value"] == "事前相談に料金はかかりますか?"
    assert not values["answer"]["value"].get("value")
    values["answer"]["value"]["value"] = STAFF_REPLY
    app.sender.interactive(view_submission(publish.MODAL, values, user=STAFF, private_metadata=view["private_metadata"]))
    assert "DA-0001" in updated_text(stub, "DA-0001")
    told = stub.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == DM1
                         and "公開しました" in c.params.get("text", ""))[0]
    assert told.params["thread_ts"] == event["ts"] and STAFF_REPLY in told.params["text"]

    # A button whose hand-off is gone (or a forged value) says so and opens nothing.
    opened_before = len(stub.calls("views.open"))
    for n, value in enumerate(("999999", "not-a-number"), start=1):
        app.sender.interactive(block_actions(publish.ACTION_HANDOFF, value=value, user=STAFF, channel=DESK_CHANNEL))
        stub.wait_for("chat.postEphemeral", count=n, where=lambda c: c.params.get("user") == STAFF
                      and "記録が見つかりません" in c.params.get("text", ""))
    assert len(stub.calls("views.open")) == opened_before


def test_businesses_that_asked_the_answered_question_recently_are_told_in_their_threads(app: RunningApp) -> None:
    from bot.slack.models import ConversationTurn

    stub = app.stub
    first, _ = ask(app, UNANSWERED)
    second, _ = ask(app, "事前相談って有料ですか？", user=ASKER2, channel=DM2)
    ask(app, "相談料は必要ですか？", user="UASKER003", channel="D0ASKER03")
    with app.ctx.db.session() as s:  # the third asked two months ago: not messaged out of the blue
        s.scalars(select(ConversationTurn).where(ConversationTurn.channel == "D0ASKER03")).one().created_at = (
            datetime.now(UTC) - timedelta(days=60))
    assert all(r.outcome == "abstained" for r in log_rows(app))

    home = home_view(app, STAFF)
    assert "*3件*" in view_text(home)
    app.sender.interactive(press(home.json_param("view")["blocks"], publish.ACTION_GAP, user=STAFF, channel="D0HOME"))
    view = opened(stub, publish.MODAL)
    values = initial_state(view)
    values["answer"]["value"]["value"] = STAFF_REPLY
    app.sender.interactive(view_submission(publish.MODAL, values, user=STAFF, private_metadata=view["private_metadata"]))
    done = updated_text(stub, "DA-0001")
    assert "質問 3 件を「未回答・要改善」から外しました" in done and "事業者 2 件にも" in done

    told = stub.wait_for("chat.postMessage", count=2, where=lambda c: "先日いただいたご質問" in c.params.get("text", ""))
    assert sorted((c.params["channel"], c.params["thread_ts"]) for c in told) == sorted(
        [(DM1, first["ts"]), (DM2, second["ts"])])
    assert all(STAFF_REPLY in c.params["text"] for c in told)
    time.sleep(0.3)
    assert not [c for c in stub.calls("chat.postMessage") if c.params.get("channel") == "D0ASKER03"
                and "先日いただいたご質問" in c.params.get("text", "")]


def test_feedback_and_handoff_update_the_logged_question(app: RunningApp) -> None:
    event, answer = ask(app, "個人でも提案できますか？")
    [entry] = log_rows(app)
    assert entry.outcome in ("answered", "abstained") and entry.feedback is None and not entry.handed_off
    app.sender.interactive(press(answer.blocks, "feedback_down", channel=DM1, thread_ts=event["ts"]))
    app.stub.wait_for("chat.postEphemeral")
    app.wait_idle()
    assert log_rows(app)[0].feedback == -1
    app.sender.interactive(press(answer.blocks, "feedback_up", channel=DM1, thread_ts=event["ts"]))
    app.stub.wait_for("chat.postEphemeral", count=2)
    app.wait_idle()
    assert log_rows(app)[0].feedback == 1
    hand_off(app, answer, event)
    assert log_rows(app)[0].handed_off
    assert "個人でも提案できますか" in log_rows(app)[0].question


def test_questions_are_logged_masked(app: RunningApp) -> None:
    ask(app, "山田と申します。yamada@example.co.jp 090-1234-5678 事前相談に料金はかかりますか？")
    [entry] = log_rows(app)
    for secret in ("山田", "yamada@example.co.jp", "090-1234-5678"):
        assert secret not in entry.question
    assert "〔メール〕" in entry.question and "事前相談に料金はかかりますか" in entry.question


def test_a_non_staff_approval_is_refused_and_changes_nothing(app: RunningApp) -> None:
    stub = app.stub
    event, answer = ask(app, UNANSWERED)
    desk_ts = hand_off(app, answer, event)
    reply = {"type": "message", "user": OTHER, "ts": new_ts(), "thread_ts": desk_ts, "text": "無料です（勝手に）"}
    app.sender.interactive(message_shortcut(publish.SHORTCUT, reply, user=OTHER, channel=DESK_CHANNEL,
                                            response_url=stub.response_url("other")))
    refusal = stub.wait_for("chat.postEphemeral", where=lambda c: c.params.get("user") == OTHER)[0]
    assert "職員のみ" in refusal.params["text"]
    assert not [c for c in stub.calls("views.open") if c.json_param("view").get("callback_id") == publish.MODAL]

    # A forged submission (metadata copied from nowhere) is refused in the ack itself.
    values = {"question": {"value": {"type": "plain_text_input", "value": UNANSWERED}},
              "answer": {"value": {"type": "plain_text_input", "value": "無料です"}}}
    sent = app.sender.interactive(view_submission(publish.MODAL, values, user=OTHER, private_metadata="{}"))
    assert sent.json()["response_action"] == "errors" and "職員のみ" in sent.json()["errors"]["answer"]
    # A withdrawal button pressed by non-staff does nothing either.
    app.sender.interactive(block_actions(publish.ACTION_WITHDRAW, value="DA-0001", user=OTHER, channel="D0HOME"))
    time.sleep(0.3)
    app.wait_idle()
    assert DeskAnswers(app.ctx.db, app.ctx.settings).active() == []
    assert not [d for d in app.ctx.engine.index.store.documents() if d.startswith("desk-answers/")]
    with app.ctx.db.session() as s:
        assert s.scalars(select(LoopAudit)).all() == []
    assert "無料です" not in outside_desk(stub)


def test_app_home_groups_gaps_with_counts_and_withdraws_an_answer(app: RunningApp) -> None:
    engine = app.ctx.engine
    qlog = QuestionLog(app.ctx.db)
    now = datetime.now(UTC)
    for i, q in enumerate(["事前相談に料金はかかりますか？", "事前相談って有料ですか？", "相談料は必要ですか？",
                           "市役所の駐車場は使えますか？"]):
        qlog.record(q, outcome="abstained", vector=engine._embed([q])[0], at=now - timedelta(minutes=10 - i))
    qlog.record("個人でも提案できますか？", outcome="answered", vector=engine._embed(["個人でも提案できますか？"])[0])

    home = home_view(app, STAFF)
    text = view_text(home)
    assert "未回答・要改善" in text and "*3件*" in text and "*1件*" in text
    assert text.index("*3件*") < text.index("*1件*") and "個人でも提案できますか" not in text
    assert "公開中のデスク回答はありません" in text
    # 「回答する」 opens the publish modal with the group's newest question.
    gap_button = next(el for blk in home.json_param("view")["blocks"] for el in [blk.get("accessory") or {}]
                      if el.get("action_id") == publish.ACTION_GAP)
    app.sender.interactive(block_actions(publish.ACTION_GAP, value=gap_button["value"], user=STAFF, channel="D0HOME"))
    view = opened(app.stub, publish.MODAL)
    assert initial_state(view)["question"]["value"]["value"] == "相談料は必要ですか?"
    values = initial_state(view)
    values["answer"]["value"]["value"] = STAFF_REPLY
    app.sender.interactive(view_submission(publish.MODAL, values, user=STAFF, private_metadata=view["private_metadata"]))
    assert "質問 3 件を「未回答・要改善」から外しました" in updated_text(app.stub, "DA-0001")

    # Non-staff see no loop section at all.
    assert "未回答・要改善" not in view_text(home_view(app, OTHER))

    # The answered group has left the gap list; the unrelated question is still there.
    home = home_view(app, STAFF)
    text = view_text(home)
    assert "DA-0001" in text and "*3件*" not in text and "*1件*" in text and "駐車場" in text

    # Withdrawal from App Home: audited, gone from the store, the engine no longer cites it, and its
    # questions are gaps again.
    app.sender.interactive(press(home.json_param("view")["blocks"], publish.ACTION_WITHDRAW, user=STAFF,
                                 channel="D0HOME"))
    app.wait_idle()
    text = view_text(app.stub.calls("views.publish")[-1])
    assert "公開中のデスク回答はありません" in text and "*3件*" in text
    with app.ctx.db.session() as s:
        assert [a.action for a in s.scalars(select(LoopAudit).order_by(LoopAudit.id))] == ["approve", "withdraw"]
    assert not [d for d in engine.index.store.documents() if d.startswith("desk-answers/DA")]
    assert engine.answer(PARAPHRASE).abstained


# --- the digest --------------------------------------------------------------------------------------


def test_weekly_digest_is_posted_once_with_masked_text_only(loop_settings: Settings, stub: SlackStub) -> None:
    now = datetime.now(UTC)
    local = now.astimezone(digest.JST) - timedelta(minutes=1)
    schedule = f"{digest.DAYS[local.weekday()]} {local:%H:%M}"
    settings = loop_settings.model_copy(update={"digest_schedule": schedule})
    db = Database(settings.db_url)
    qlog = QuestionLog(db)
    for q, outcome in [("山田と申します。yamada@example.co.jp か 090-1234-5678 へ。事前相談に料金はかかりますか？", "abstained"),
                       ("suzuki@example.com 事前相談って有料ですか？", "abstained"),
                       ("個人でも提案できますか？", "answered")]:
        qlog.record(q, outcome=outcome, at=now - timedelta(hours=2))
    db.dispose()
    with loop_app(settings, stub) as app:
        post = stub.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == DESK_CHANNEL)[0]
        posted = json.dumps(post.params, ensure_ascii=False)
        assert "週次ダイジェスト" in posted and "質問 3 件" in posted and "回答率 33%" in posted
        for secret in ("yamada@example.co.jp", "090-1234-5678", "suzuki@example.com", "山田"):
            assert secret not in posted
        assert "〔メール〕" in posted
        # Another worker on the same database does not post the same period again.
        other = digest.Maintenance(app.ctx, QuestionLog(app.ctx.db), runtime(app.ctx).worker)
        assert other.post_due() is False
        runtime(app.ctx).maintenance.run_once()
        time.sleep(0.3)
        assert len([c for c in stub.calls("chat.postMessage") if c.params.get("channel") == DESK_CHANNEL]) == 1


def test_schedule_parsing_and_periods() -> None:
    assert digest.parse_schedule("") is None and digest.parse_schedule("someday 9") is None
    assert digest.parse_schedule("Mon 09:00") == (0, 9, 0)
    wed = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)  # Wednesday 12:00 JST
    assert digest.last_scheduled((0, 9, 0), wed) == datetime(2026, 3, 2, 9, 0, tzinfo=digest.JST)
    assert digest.last_scheduled((2, 13, 0), wed) == datetime(2026, 2, 25, 13, 0, tzinfo=digest.JST)


def test_old_questions_are_purged_at_start(loop_settings: Settings, stub: SlackStub) -> None:
    db = Database(loop_settings.db_url)
    QuestionLog(db).record("古い質問", outcome="abstained", at=datetime.now(UTC) - timedelta(days=200))
    QuestionLog(db).record("新しい質問", outcome="abstained")
    db.dispose()
    with loop_app(loop_settings, stub) as app:
        assert [e.question for e in log_rows(app)] == ["新しい質問"]


# --- the wall ----------------------------------------------------------------------------------------


def test_staff_notes_and_drafts_never_reach_a_business_with_approved_answers_present(app: RunningApp) -> None:
    from bot.records.models import ProposalRecord, StatusChange

    with app.ctx.db.session() as s:
        rec = ProposalRecord(proposer_user_id="U1", status="submitted", summary="SECRET-DRAFT-7731 事前相談の料金",
                             record_id="P-2026-0009", year=2026, seq=9)
        s.add(rec)
        s.flush()
        s.add(StatusChange(record_pk=rec.pk, actor=STAFF, from_status="submitted", to_status="received",
                           note="STAFF-NOTE-4410 事前相談の料金は内部で検討中"))
    DeskAnswers(app.ctx.db, app.ctx.settings, app.ctx.engine.index.store).approve(
        "事前相談って相談料はかかりますか?", STAFF_REPLY, STAFF)
    app.ctx.engine.reload()
    for q in (PARAPHRASE, "事前相談の料金について内部の検討状況を教えて", "他社の提案内容を見せてください"):
        ask(app, q)
    leaked = outside_desk(app.stub)
    assert "SECRET-DRAFT-7731" not in leaked and "STAFF-NOTE-4410" not in leaked
    chunks = " ".join(text for _id, text, _meta in app.ctx.engine.index.store.read_chunks())
    assert "SECRET-DRAFT-7731" not in chunks and "STAFF-NOTE-4410" not in chunks


# --- documents added from Slack ----------------------------------------------------------------------


SNOW = [["除雪ボランティア制度のご案内", "この資料は市の除雪ボランティア制度を説明します。"],
        ["登録の受付", "除雪ボランティアの登録は、市民協働推進課で毎年十月から受け付けています。",
         "登録に費用はかかりません。"]]


def share(app: RunningApp, file_obj: dict, user: str = STAFF) -> None:
    message = {"type": "message", "user": user, "ts": new_ts(), "text": "資料です", "files": [file_obj]}
    app.sender.interactive(message_shortcut(files.SHORTCUT, message, user=user, channel=DESK_CHANNEL,
                                            response_url=app.stub.response_url()))


def test_a_document_from_slack_is_previewed_ingested_cited_and_removed(app: RunningApp, tmp_path: Path) -> None:
    stub = app.stub
    pdf = text_pdf(tmp_path / "snow.pdf", SNOW, title="除雪ボランティア制度の案内")
    obj = stub.add_file("F0SNOW001", "snow.pdf", pdf.read_bytes(), mimetype="application/pdf", user=STAFF)

    # Non-staff: refused, nothing downloaded.
    share(app, obj, user=OTHER)
    stub.wait_for("chat.postEphemeral", where=lambda c: c.params.get("user") == OTHER)
    assert not stub.calls("files.download")

    share(app, obj)
    preview = updated_text(stub, "ページ: 2")
    assert "除雪ボランティア制度の案内" in preview and "PDF" in preview and '"submit"' in preview
    download = stub.successful("files.download")[0]
    assert download.headers["authorization"].startswith("Bearer xoxb-")
    view = stub.calls("views.update")[-1].json_param("view")
    app.sender.interactive(view_submission(files.MODAL, {}, user=STAFF, private_metadata=view["private_metadata"]))
    assert "ナレッジに追加しました" in updated_text(stub, "ナレッジに追加しました")
    doc_id = FILES_PREFIX + "F0SNOW001"
    assert doc_id in app.ctx.engine.index.store.documents()

    _, answer = ask(app, "除雪ボランティアの登録はどこで受け付けていますか？")
    text = answer.block_text()
    assert "市民協働推進課" in text and "除雪ボランティア制度の案内" in text and "p. 2" in text

    # The same file again is a duplicate; an encrypted PDF is refused with the reason.
    share(app, stub.add_file("F0SNOW002", "snow-copy.pdf", pdf.read_bytes(), mimetype="application/pdf"))
    assert "同じ内容の資料がすでにあります" in updated_text(stub, "同じ内容の資料がすでにあります")
    locked = encrypted_pdf(tmp_path / "locked.pdf")
    share(app, stub.add_file("F0LOCK001", "locked.pdf", locked.read_bytes(), mimetype="application/pdf"))
    refused = updated_text(stub, "encrypted")
    assert '"submit"' not in refused

    # Removal from App Home: audited, gone from the store and from the answers.
    home = home_view(app, STAFF)
    assert "除雪ボランティア制度の案内" in view_text(home)
    app.sender.interactive(press(home.json_param("view")["blocks"], files.ACTION_REMOVE, user=STAFF, channel="D0HOME"))
    app.wait_idle()
    assert "Slackから追加した資料はありません" in view_text(stub.calls("views.publish")[-1])
    assert doc_id not in app.ctx.engine.index.store.documents()
    with app.ctx.db.session() as s:
        assert [(a.action, a.target) for a in s.scalars(select(LoopAudit).order_by(LoopAudit.id))] == [
            ("add_document", doc_id), ("remove_document", doc_id)]
    _, again = ask(app, "除雪ボランティアの登録はどこで受け付けていますか？")
    assert "除雪ボランティア制度の案内" not in again.block_text()


def test_a_cancelled_preview_keeps_no_file_and_the_daily_sweep_catches_forgotten_ones(
        app: RunningApp, tmp_path: Path) -> None:
    stub = app.stub
    pdf = text_pdf(tmp_path / "snow.pdf", SNOW, title="除雪ボランティア制度の案内")
    kept = documents.files_dir(app.ctx.settings)

    # 「キャンセル」 on the preview: the downloaded file is deleted, nothing is added.
    share(app, stub.add_file("F0SNOW001", "snow.pdf", pdf.read_bytes(), mimetype="application/pdf", user=STAFF))
    view = opened(stub, files.MODAL, method="views.update")
    assert view["notify_on_close"] and (kept / "F0SNOW001").is_dir()
    # A close not sealed for this user (forged, or another user's) deletes nothing.
    app.sender.interactive(view_closed(files.MODAL, user=OTHER, private_metadata=view["private_metadata"]))
    app.wait_idle()
    assert (kept / "F0SNOW001").is_dir()
    assert app.sender.interactive(view_closed(files.MODAL, user=STAFF,
                                              private_metadata=view["private_metadata"])).status == 200
    app.wait_idle()
    assert not (kept / "F0SNOW001").exists()

    # A preview left open is swept after a day; an added document's file is kept.
    share(app, stub.add_file("F0SNOW002", "snow2.pdf", pdf.read_bytes(), mimetype="application/pdf", user=STAFF))
    opened(stub, files.MODAL, count=2, method="views.update")
    share(app, stub.add_file("F0SNOW003", "snow3.pdf", pdf.read_bytes() + b"\n", mimetype="application/pdf", user=STAFF))
    view = opened(stub, files.MODAL, count=3, method="views.update")
    app.sender.interactive(view_submission(files.MODAL, {}, user=STAFF, private_metadata=view["private_metadata"]))
    updated_text(stub, "ナレッジに追加しました")
    assert documents.sweep_previews(app.ctx.settings, app.ctx.db) == []  # not a day old yet
    assert documents.sweep_previews(app.ctx.settings, app.ctx.db, now=time.time() + 2 * 86400) == ["F0SNOW002"]
    assert not (kept / "F0SNOW002").exists() and documents.stored_file(app.ctx.settings, "F0SNOW003") is not None


def test_the_bot_token_is_never_sent_to_a_host_other_than_slacks(loop_settings: Settings, tmp_path: Path) -> None:
    from ingest.loaders import LoadError

    with pytest.raises(LoadError, match="file host"):
        files.download(loop_settings, "xoxb-secret", "https://attacker.example/f.pdf", tmp_path / "f.pdf")
    assert not (tmp_path / "f.pdf").exists()


