"""The draft modal's prefill: the Slack profile and the proposer's own turns of the conversation."""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from bot.db import Database
from bot.records.extract import ConvTurn, coerce_turns
from bot.records.fields import ProposalFields
from bot.records.slack.request import DraftRequest
from bot.slack.history import thread_turns

log = logging.getLogger("bot.records.slack")


def profile(client: WebClient, user: str) -> tuple[ProposalFields, str | None]:
    """Name and email from ``users.info`` (and the user's locale as a language hint)."""
    try:
        info = client.users_info(user=user, include_locale=True).get("user") or {}
    except Exception as exc:  # noqa: BLE001 - a form without a name is better than no form
        log.info("records: users.info unavailable (%s)", type(exc).__name__)
        return ProposalFields(), None
    prof = info.get("profile") or {}
    name = prof.get("real_name") or info.get("real_name") or prof.get("display_name") or ""
    locale = str(info.get("locale") or "")
    lang = "en" if locale.startswith("en") else "ja" if locale.startswith("ja") else None
    return ProposalFields(contact_name=name, email=prof.get("email") or ""), lang


def conversation(db: Database, client: WebClient, req: DraftRequest, desk_channel: str | None = None) -> list[ConvTurn]:
    """The proposer's own turns of the thread (stored turns first, ``conversations.replies`` else).

    Nothing is read from the desk channel: its threads hold staff notes and cards, never a
    business's conversation.
    """
    turns: list[ConvTurn] = []
    if req.channel and req.thread_ts and req.channel != desk_channel:
        try:
            stored = [t for t in thread_turns(db, req.channel, req.thread_ts) if not t.user or t.user == req.user]
            turns = coerce_turns(stored)
        except Exception as exc:  # noqa: BLE001 - history is a convenience for the prefill
            log.info("records: stored turns unavailable (%s)", type(exc).__name__)
        if not turns:
            try:
                resp = client.conversations_replies(channel=req.channel, ts=req.thread_ts, limit=50)
                for m in resp.get("messages") or []:
                    if m.get("bot_id"):
                        turns.append(ConvTurn("assistant", m.get("text") or ""))
                    elif m.get("user") == req.user:
                        turns.append(ConvTurn("user", m.get("text") or ""))
            except Exception as exc:  # noqa: BLE001
                log.info("records: conversations.replies unavailable (%s)", type(exc).__name__)
    if req.message_text and not any(t.text == req.message_text for t in turns):
        turns.append(ConvTurn("user", req.message_text))
    if req.question and not any(t.role == "user" and t.text == req.question for t in turns):
        turns.insert(0, ConvTurn("user", req.question))
    return [t for t in turns if t.text.strip()]
