"""Measure the loop: the development set's near-miss questions, replayed through the Slack app.

Every unanswerable question of ``../shared/eval/dev2.jsonl`` is asked in a DM against the whole
bundled knowledge.  Staff then answer three of them through the real flow (hand-off, reply in the
desk thread, 「回答として公開」), and the three are asked again in other words: they now get the
approved answer, cited.  The other near-misses are asked again as they were and get what they got
before (an abstention stays an abstention, no desk answer is cited for them).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from slack_helpers import (
    DESK_CHANNEL,
    RunningApp,
    initial_state,
    make_slack_settings,
    message_shortcut,
    new_ts,
    view_submission,
)
from test_knowledge_loop_slack import STAFF, ask, hand_off, loop_app, opened, updated_text

from bench.slack_stub import Call, SlackStub
from bot.config import PROJECT_ROOT, Settings
from bot.knowledge_loop.slack import publish

pytestmark = pytest.mark.slow

DEV2 = PROJECT_ROOT.parent / "shared" / "eval" / "dev2.jsonl"

# Three near-misses the desk answers, each with the staff reply and the same question in other words.
APPROVED = {
    "d2-55": ("事前相談は無料です。予約のうえ、お気軽にご相談ください。", "相談に行くのに費用は必要ですか？"),
    "d2-61": ("提案書の様式は自由です。A4で10ページ程度を目安にお書きください。",
              "提案書の様式は指定されていますか？"),
    "d2-66": ("Yes. Pre-consultations can be held online (Zoom or Teams) and usually take about an hour.",
              "Is it possible to have the preliminary consultation online rather than in person?"),
}


def near_misses() -> list[dict]:
    if not DEV2.exists():
        pytest.skip(f"{DEV2} is not here (the development sets live next to the repository)")
    return [item for line in DEV2.read_text(encoding="utf-8").splitlines() if line.strip()
            for item in [json.loads(line)] if not item.get("answerable", True)]


@pytest.fixture
def app(kb_settings: Settings, tmp_path: Path) -> Iterator[RunningApp]:
    """The whole bundled knowledge, copied so approvals never reach the session's shared store."""
    data = tmp_path / "data"
    shutil.copytree(kb_settings.data_dir, data)
    with SlackStub() as stub:
        settings = make_slack_settings(data, stub, db_path=tmp_path / "replay.db", DESK_STAFF_USER_IDS=STAFF)
        with loop_app(settings, stub) as running:
            yield running


def outcome(reply: Call) -> tuple[bool, bool]:
    """(answered, cites a desk answer) as the business sees the reply."""
    text = reply.block_text()
    return "資料に記載がありません" not in text and "記載は見つかりません" not in text, "公民連携デスク回答" in text


def test_three_approved_answers_close_their_gaps_and_nothing_else_changes(app: RunningApp) -> None:
    items = near_misses()
    assert len(items) >= 10
    before: dict[str, bool] = {}
    threads: dict[str, tuple[dict, Call]] = {}
    for n, item in enumerate(items):
        event, reply = ask(app, item["q"], user=f"UBIZ{n:05d}", channel=f"D0BIZ{n:04d}")
        abstained = app.ctx.engine.answer(item["q"]).abstained
        before[item["id"]] = abstained
        threads[item["id"]] = (event, reply)
    # The gaps the desk will answer are abstentions today.
    assert all(before[i] for i in APPROVED)

    today = datetime.now(UTC).date().isoformat()
    for number, (item_id, (staff_reply, _)) in enumerate(APPROVED.items(), start=1):
        event, reply = threads[item_id]
        n = next(k for k, it in enumerate(items) if it["id"] == item_id)
        desk_ts = hand_off(app, reply, event, channel=f"D0BIZ{n:04d}")
        message = {"type": "message", "user": STAFF, "ts": new_ts(), "thread_ts": desk_ts, "text": staff_reply}
        app.sender.interactive(message_shortcut(publish.SHORTCUT, message, user=STAFF, channel=DESK_CHANNEL))
        view = opened(app.stub, publish.MODAL, count=number)
        app.sender.interactive(view_submission(publish.MODAL, initial_state(view), user=STAFF,
                                               private_metadata=view["private_metadata"]))
        updated_text(app.stub, f"DA-{number:04d}")

    # Asked again in other words: answered from the approved answer, cited with its approval date.
    for n, (item_id, (staff_reply, paraphrase)) in enumerate(APPROVED.items()):
        _, reply = ask(app, paraphrase, user=f"UNEW{n:05d}", channel=f"D0NEW{n:04d}")
        text = reply.block_text()
        assert f"公民連携デスク回答（{today} 承認）" in text, (item_id, text)
        assert staff_reply.split("。")[0].split(".")[0] in text, (item_id, text)

    # Every other near-miss gets what it got before, and never a desk answer.
    for n, item in enumerate(it for it in items if it["id"] not in APPROVED):
        _, reply = ask(app, item["q"], user=f"UAGAIN{n:04d}", channel=f"D0AGN{n:04d}")
        assert app.ctx.engine.answer(item["q"]).abstained == before[item["id"]], item["id"]
        assert "公民連携デスク回答" not in reply.block_text(), item["id"]
