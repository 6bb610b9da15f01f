"""Where a draft request came from: every entry point's payload read into one shape.

The answer's button, ``/ppp draft``, the message shortcut and the App Home buttons all open the
same modal; this module reads their payloads (trusting only what Slack itself vouches for) and
looks up the stored turn an answer's button names.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from bot.db import Database
from bot.records import blocks as rb
from bot.slack.history import get_turn
from bot.slack.payload import parse_value

# How long a draft button waits for its answer's turn row (the trigger_id lives 3 s).
_TURN_WAIT_TRIES, _TURN_WAIT_S = 8, 0.1


@dataclass(frozen=True)
class DraftRequest:
    """Where a draft request came from, whatever the entry point's payload shape."""

    user: str
    trigger_id: str | None
    channel: str | None
    thread_ts: str | None
    question: str
    message_text: str
    language: str | None
    record_pk: int | None = None
    turn_ref: str | None = None  # the answer's button: where it came from is looked up, not read


def parse_request(body: dict) -> DraftRequest:
    """Button (``block_actions``), slash command, message shortcut or App Home button → one shape.

    From the answer's button only the turn reference is taken: its ``channel``/``thread_ts``/
    ``question`` travel in a client payload and are ignored (:func:`resolve_turn` reads them from
    the turn the app stored when it posted the answer).  A shortcut's channel and message come from
    Slack's own envelope around the message it was used on.
    """
    user = (body.get("user") or {}).get("id") or body.get("user_id") or ""
    trigger = body.get("trigger_id")
    if body.get("type") == "message_action":
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id")
        thread = message.get("thread_ts") or message.get("ts")
        text = message.get("text") or ""
        return DraftRequest(user, trigger, channel, thread, "", text, None)
    if body.get("command"):
        return DraftRequest(user, trigger, None, None, "", "", None)
    action = (body.get("actions") or [{}])[0]
    if action.get("action_id") == rb.ACTION_EDIT_DRAFT:
        try:
            pk = int(action.get("value") or "")
        except ValueError:
            pk = None
        return DraftRequest(user, trigger, None, None, "", "", None, record_pk=pk)
    ref = parse_value(action.get("value")).get("turn")
    return DraftRequest(user, trigger, None, None, "", "", None, turn_ref=ref if isinstance(ref, str) else None)


def resolve_turn(db: Database, req: DraftRequest) -> DraftRequest:
    """The request with channel, thread, question and language of the stored turn its button names.

    An unknown reference yields a draft without a thread.  Someone pressing the button under
    another person's answer drafts from that thread with only their own turns, never the other
    person's question.
    """
    if not req.turn_ref:
        return req
    turn = get_turn(db, req.turn_ref)
    for _ in range(_TURN_WAIT_TRIES):  # stored right after Slack took the answer: a fast click may beat it
        if turn is not None:
            break
        time.sleep(_TURN_WAIT_S)
        turn = get_turn(db, req.turn_ref)
    if turn is None:
        return replace(req, channel=None, thread_ts=None, question="")
    thread = turn.thread_ts or None
    own = turn.user == req.user
    return replace(req, channel=turn.channel if thread else None, thread_ts=thread,
                   question=turn.question if own else "",
                   language=turn.language if turn.language in ("ja", "en") else None)
