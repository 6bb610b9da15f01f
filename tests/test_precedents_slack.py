"""``/ppp-precedents`` and the wall through the real Bolt app over signed HTTP, with the Web API stand-in."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_helpers import (
    DESK_CHANNEL,
    RunningApp,
    app_mention,
    block_actions,
    find_button,
    make_slack_settings,
    message_im,
    press,
    running_app,
    view_submission,
)
from test_precedents_wall import ADVERSARIAL, marker_records

from bench.slack_stub import Call, SlackStub
from bot.config import Settings
from bot.precedents.render import ACTION_FILTER, ACTION_PAGE, MODAL_CALLBACK, REFUSAL

STAFF = "USTAFF001"
GROUP_STAFF = "USTAFF002"
BUSINESS = "UBIZ00001"
STAFF_GROUP = "S0STAFF01"


@pytest.fixture
def stub() -> Iterator[SlackStub]:
    with SlackStub() as s:
        s.usergroups[STAFF_GROUP] = [GROUP_STAFF]
        yield s


@pytest.fixture
def tag() -> str:
    return "ZQXMARK" + uuid.uuid4().hex[:8].upper()


@pytest.fixture
def running(kb_settings: Settings, tmp_path: Path, stub: SlackStub, engine, tag: str) -> Iterator[RunningApp]:
    settings = make_slack_settings(kb_settings.data_dir, stub, db_path=tmp_path / "slack.db",
                                   DESK_STAFF_USER_IDS=STAFF, DESK_STAFF_USERGROUP_ID=STAFF_GROUP,
                                   PPP_INTERNAL_COLLECTION=f"t_slack_{uuid.uuid4().hex[:8]}")
    with running_app(settings, stub, engine=engine) as app:
        app.ctx.precedents.index.upsert_many(marker_records(tag))
        yield app


def _all_text(call: Call) -> str:
    return call.body.decode("utf-8", "replace") + json.dumps(call.params, ensure_ascii=False)


def _command(app: RunningApp, text: str, user: str, channel: str = "C0PUBLIC1", **kw):
    return app.sender.command("/ppp-precedents", text, user=user, channel=channel,
                              response_url=app.stub.response_url(), **kw)


def test_staff_search_pages_and_filters(running: RunningApp) -> None:
    stub = running.stub
    sent = _command(running, "ねぶた 和紙", STAFF)
    assert sent.status == 200 and REFUSAL not in sent.body
    first = stub.wait_for("response_url")[0]
    assert first.params["response_type"] == "ephemeral"
    assert "アップサイクルプロジェクト" in first.block_text()
    assert "市の提供" in first.block_text() and "›" in first.block_text()
    nxt = find_button(first.blocks, ACTION_PAGE + "_next")
    assert json.loads(nxt["value"])["o"] == 5

    # 「さらに表示」: the next five, replacing the message in place.
    running.sender.interactive(press(first.blocks, ACTION_PAGE + "_next", user=STAFF, channel="C0PUBLIC1",
                                     is_ephemeral=True, response_url=stub.response_url()))
    second = stub.wait_for("response_url", count=2)[1]
    assert second.params["replace_original"] is True
    titles = [b["text"]["text"].split("\n")[0] for b in first.blocks[1:6]]
    assert "6." in second.block_text() and not any(t in second.block_text() for t in titles)
    find_button(second.blocks, ACTION_PAGE + "_prev")

    # The filter modal: options come from the data; a submission searches with the choices.
    running.sender.interactive(press(first.blocks, ACTION_FILTER, user=STAFF, channel="C0PUBLIC1",
                                     is_ephemeral=True, response_url=stub.response_url()))
    opened = stub.wait_for("views.open")[0]
    view = opened.json_param("view")
    assert view["callback_id"] == MODAL_CALLBACK
    selects = {b["block_id"]: b["element"] for b in view["blocks"] if b["element"]["type"] == "static_select"}
    assert set(selects) == {"scheme", "field", "city", "year", "status"}
    assert "福岡市" in [o["value"] for o in selects["city"]["options"]]
    assert "2023" in [o["value"] for o in selects["year"]["options"]]
    values = {"q": {"value": {"type": "plain_text_input", "value": "AI"}},
              "scheme": {"value": {"type": "static_select", "selected_option": {"value": "trial"}}},
              "year": {"value": {"type": "static_select", "selected_option": {"value": "2023"}}}}
    meta = view["private_metadata"]
    assert running.sender.interactive(view_submission(MODAL_CALLBACK, values, user=STAFF,
                                                      private_metadata=meta)).status == 200
    filtered = stub.wait_for("response_url", count=3)[2]
    text = filtered.block_text()
    assert "実証実験サポート（株式会社 LightblueTechnology）" in text
    assert "1. " in text and "2. " not in text  # only the 2023 trial


def test_staff_by_user_group_and_desk_mention_in_thread(running: RunningApp, tag: str) -> None:
    stub = running.stub
    _command(running, "AIカメラ 歩行者", GROUP_STAFF)
    got = stub.wait_for("response_url")[0]
    assert tag in got.block_text()  # staff see internal records
    assert "🔒" in got.block_text()

    event = app_mention("前例 電動キックボード city:福岡市", user=STAFF, channel=DESK_CHANNEL)
    running.sender.event(event)
    posted = stub.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == DESK_CHANNEL)[0]
    assert posted.params.get("thread_ts") == event["ts"]
    assert "シェア型電動キックボード" in posted.block_text()


def test_empty_command_opens_the_filter_modal(running: RunningApp) -> None:
    _command(running, "", STAFF)
    view = running.stub.wait_for("views.open")[0].json_param("view")
    assert view["callback_id"] == MODAL_CALLBACK


def test_non_staff_is_refused_even_in_the_desk_channel(running: RunningApp) -> None:
    for channel in ("C0PUBLIC1", DESK_CHANNEL, "D0BIZ0001"):
        sent = _command(running, "AIカメラ 歩行者", BUSINESS, channel=channel)
        assert sent.status == 200 and "職員専用" in sent.body
    running.wait_idle()
    assert running.stub.calls("response_url") == []
    assert running.stub.calls("chat.postEphemeral") == []
    assert running.stub.calls("views.open") == []


def test_forged_buttons_and_modal_from_non_staff_show_nothing(running: RunningApp, tag: str) -> None:
    stub = running.stub
    value = json.dumps({"q": "AIカメラ 歩行者", "f": {}, "o": 0})
    running.sender.interactive(block_actions(ACTION_PAGE + "_next", value=value, user=BUSINESS, channel="C0PUBLIC1",
                                             is_ephemeral=True, response_url=stub.response_url()))
    refused = stub.wait_for("response_url")[0]
    assert "職員専用" in refused.params["text"] and not refused.blocks
    running.sender.interactive(block_actions(ACTION_FILTER, value=value, user=BUSINESS, channel="C0PUBLIC1",
                                             is_ephemeral=True, response_url=stub.response_url()))
    values = {"q": {"value": {"type": "plain_text_input", "value": "AIカメラ"}}}
    meta = json.dumps({"channel": "C0PUBLIC1", "response_url": stub.response_url()})
    running.sender.interactive(view_submission(MODAL_CALLBACK, values, user=BUSINESS, private_metadata=meta))
    running.wait_idle()
    assert stub.calls("views.open") == []
    assert not any(tag in _all_text(c) for c in stub.calls())


def test_no_internal_text_reaches_any_slack_call_made_for_a_business(running: RunningApp, tag: str) -> None:
    """Every business surface, many phrasings: no recorded Slack call (or HTTP reply) holds a marker."""
    stub, sender = running.stub, running.sender
    replies = []
    for i, q in enumerate(ADVERSARIAL):
        replies.append(sender.event(message_im(q, user=BUSINESS, channel="D0BIZ0001")))
        if i % 2 == 0:
            replies.append(sender.event(app_mention(q, user=BUSINESS, channel="C0PUBLIC1")))
            # A business in a shared (Slack Connect) desk channel is still a business.
            replies.append(sender.event(app_mention(q, user=BUSINESS, channel=DESK_CHANNEL)))
        else:
            replies.append(sender.command("/ppp", q, user=BUSINESS, channel="C0PUBLIC1",
                                          response_url=stub.response_url()))
        replies.append(_command(running, q, BUSINESS))
    running.wait_idle()
    calls = stub.calls()
    answers = [c for c in calls if c.method in ("chat.postMessage", "response_url")]
    assert len(answers) >= len(ADVERSARIAL), "the business questions were not answered"
    assert not [c.method for c in calls if tag in _all_text(c) or "秘密商事" in _all_text(c)]
    assert not [r.body for r in replies if tag in r.body]

    # Control: the same stand-in does record the markers once a staff member asks.
    _command(running, "AIカメラ 歩行者", STAFF)
    running.wait_idle()
    assert any(tag in _all_text(c) for c in stub.calls("response_url"))


def test_a_broken_internal_store_gets_a_polite_note(kb_settings: Settings, tmp_path: Path, stub: SlackStub,
                                                    engine) -> None:
    from bot.precedents.internal import open_internal_client
    from bot.precedents.render import FAILED

    settings = make_slack_settings(kb_settings.data_dir, stub, db_path=tmp_path / "slack.db",
                                   DESK_STAFF_USER_IDS=STAFF, PPP_INTERNAL_COLLECTION=f"t_bad_{uuid.uuid4().hex[:8]}")
    open_internal_client(settings).create_collection(
        settings.internal_collection, metadata={"space": "internal", "embedding_model": "another-model"})
    with running_app(settings, stub, engine=engine) as app:
        _command(app, "AI", STAFF)
        note = stub.wait_for("response_url")[0]
        assert note.params["text"] == FAILED and not note.blocks
