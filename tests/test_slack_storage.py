"""Storage failing under the running app (issue 10, item 4): ``/healthz`` turns red, users get apologies.

The real app over signed HTTP with the Web API stand-in.  The data directory is deleted while the
app serves (SQLite then writes to an unlinked file without any error), or the database is opened
read-only.  ``/healthz`` must say 503 with the reasons; a submission must never be confirmed, to
the business or the desk, when it was not stored; a DM and ``/ppp`` get an apology, not silence.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from slack_helpers import (
    DESK_CHANNEL,
    RunningApp,
    initial_state,
    make_slack_settings,
    message_im,
    running_app,
    view_submission,
)

from bench.slack_stub import SlackStub
from bot.db import Database
from bot.engine.answer import Answer
from bot.records import blocks as rb

pytestmark = pytest.mark.slow

GOOD = {"org_name": "株式会社青森テック", "org_type": "corporation", "contact_name": "山田 花子",
        "email": "hanako@example.co.jp", "title": "青森駅前での自動運転バス実証", "summary": "駅前で実証したい。",
        "cost_burden": "self", "personal_info": "no", "third_party_ip": "no"}


class CannedEngine:
    """Stands where the answer engine would (another module's job); always the same answer."""

    def answer(self, question: str, history: Any = None) -> Answer:
        return Answer(question=question, text="提案は随時受け付けています。", category="process", abstained=False)


def _data_dir(root: Path) -> Path:
    data = root / "data"
    for store in ("chroma", "lexical"):
        (data / store).mkdir(parents=True)
    return data


@contextmanager
def app_on(settings: Any, stub: SlackStub, db: Database | None = None) -> Iterator[RunningApp]:
    with running_app(settings, stub, engine=CannedEngine(), db=db) as app:
        worker = app.ctx.records.worker
        worker.poll_s, worker.base_delay_s, worker.max_delay_s = 0.1, 0.1, 0.4
        try:
            yield app
        finally:
            app.ctx.records.stop()


@pytest.fixture
def stub() -> Iterator[SlackStub]:
    with SlackStub() as s:
        yield s


def _draft_view(app: RunningApp) -> dict:
    n = len(app.stub.calls("views.open"))
    app.sender.command("/ppp", "draft", response_url=app.stub.response_url())
    return app.stub.wait_for("views.open", count=n + 1)[-1].json_param("view")


def _submit(app: RunningApp, view: dict) -> dict:
    values = initial_state(view)
    for name, value in GOOD.items():
        state = values[name]["value"]
        if state["type"] == "plain_text_input":
            state["value"] = value
        else:
            state["selected_option"] = {"value": value}
    payload = view_submission(rb.DRAFT_CALLBACK, values, private_metadata=view["private_metadata"])
    return app.sender.interactive(payload).json()


def test_deleted_data_dir_turns_healthz_red_and_nothing_is_confirmed(tmp_path: Path, stub: SlackStub) -> None:
    data = _data_dir(tmp_path)
    settings = make_slack_settings(data, stub, DATABASE_URL=None)  # SQLite inside the data dir
    with app_on(settings, stub) as app:
        health = app.sender.get("/healthz")
        assert health.status == 200 and health.json()["ok"] is True and health.json()["problems"] == []
        view = _draft_view(app)
        shutil.rmtree(data)  # an operator's mistake while serving

        health = app.sender.get("/healthz")
        assert health.status == 503
        assert {"database_file_missing", "store_missing:chroma", "store_missing:lexical"} <= set(
            health.json()["problems"])
        body = _submit(app, view)
        assert body["response_action"] == "errors" and "一時的な障害" in body["errors"]["title"]
        time.sleep(0.8)
        app.wait_idle()
        assert not [c for c in stub.calls("chat.postMessage") if c.params.get("channel") == DESK_CHANNEL]
        assert not any("受付番号" in c.params.get("text", "") for c in stub.calls("chat.postMessage"))


def test_read_only_database_gets_apologies_not_silence(tmp_path: Path, stub: SlackStub) -> None:
    data = _data_dir(tmp_path)
    path = tmp_path / "ro.db"
    Database(f"sqlite:///{path}").dispose()  # migrated, then opened read-only below
    read_only = Database(f"sqlite:///file:{path}?mode=ro&uri=true", run_migrations=False)
    settings = make_slack_settings(data, stub, DATABASE_URL=f"sqlite:///{path}")
    try:
        with app_on(settings, stub, db=read_only) as app:
            assert app.sender.get("/healthz").status == 503
            event = message_im("提案はいつでもできますか？")
            assert app.sender.event(event).status == 200
            apology = stub.wait_for("chat.postMessage", where=lambda c: c.params.get("thread_ts") == event["ts"])[0]
            assert "申し訳ありません" in apology.params["text"] and "公民連携デスク" in apology.params["text"]

            url = stub.response_url("ppp")
            assert app.sender.command("/ppp", "提案はいつでもできますか？", response_url=url).status == 200
            reply = stub.wait_for("response_url")[0]
            assert "申し訳ありません" in reply.params.get("text", "") or "申し訳ありません" in reply.body.decode()
    finally:
        read_only.dispose()
