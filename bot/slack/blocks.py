"""Block Kit rendering of an :class:`~bot.engine.answer.Answer` and the other messages we post.

Pure functions: data in, JSON-ready dicts out, no Slack calls, so they are tested directly.  Slack
rejects a message outright when a section's text exceeds 3,000 characters or a message holds more
than 50 blocks; rendering therefore splits long text at natural breaks, trims what still does not
fit (leaving a 「全文を表示」 button that opens the rest in a modal) and never produces an invalid
message.  Everything quoted from documents or users is escaped so it cannot mention ``@channel``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.city import CityProfile
from bot.engine.answer import Answer
from bot.language import detect_language
from bot.slack.escape import safe_cut
from bot.slack.kit import (
    BUTTON_VALUE_LIMIT,
    MESSAGE_BLOCKS,
    SECTION_LIMIT,
    VIEW_BLOCKS,
    Block,
    actions,
    button,
    context,
    divider,
    escape,
    section,
    truncate,
)
from bot.slack.kit import json_value as _value
from bot.slack.kit import modal as _modal
from bot.slack.texts import t

__all__ = ["escape", "truncate"]  # re-exported: bot.slack.escape is where they live

FALLBACK_TEXT_LIMIT = 3000
ANSWER_SECTIONS = 4  # sections of answer text in a message before the rest moves to the modal
MAX_SOURCES = 5
HANDOFF_TURNS = 10

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_BREAKS = ("\n\n", "\n", "。", "．", ". ", "、", " ")


def to_mrkdwn(text: str) -> str:
    """Escaped text with Markdown ``**bold**`` turned into Slack's ``*bold*``."""
    return _BOLD.sub(r"*\1*", escape(text))


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` characters at the most natural break.

    Paragraphs first, then lines, then Japanese or English sentence ends, then a hard cut (Japanese
    text has no spaces, so the hard cut must exist).
    """
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for mark in _BREAKS:
            pos = window.rfind(mark)
            if pos >= limit // 3:
                cut = pos + len(mark)
                break
        if cut <= 0:
            cut = safe_cut(rest, limit) or limit  # an entity at 0 of a tiny limit: cut it rather than loop
        piece, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if piece:
            pieces.append(piece)
    if rest:
        pieces.append(rest)
    return pieces


def answer_language(answer: Answer) -> str:
    """The language to frame the answer in: the engine's choice, or English when the user wrote it."""
    if answer.language == "en" or detect_language(answer.question) == "en":
        return "en"
    return "ja"


def draft_button_value(*, turn_ref: str, channel: str, thread_ts: str, question: str, language: str) -> str:
    """What the records feature needs to start a draft from this answer (always < 2,000 chars)."""
    data = {"turn": turn_ref, "channel": channel, "thread_ts": thread_ts, "question": "", "language": language}
    budget = BUTTON_VALUE_LIMIT - len(_value(data))
    value = _value({**data, "question": truncate(question, budget)})
    while len(value) > BUTTON_VALUE_LIMIT:  # JSON escapes (quotes, newlines) made it longer
        budget -= 100
        value = _value({**data, "question": truncate(question, max(budget, 1))})
    return value


def answer_blocks(answer: Answer, *, turn_ref: str, channel: str, thread_ts: str,
                  city: CityProfile | None = None, lang: str | None = None) -> list[Block]:
    """The answer message: text, sources (each quote viewable), notice, and the four buttons."""
    lang = lang or answer_language(answer)
    blocks: list[Block] = []
    parts = split_text(to_mrkdwn(answer.text or answer.lead or ""), SECTION_LIMIT) or [" "]
    shown = parts[:ANSWER_SECTIONS]
    blocks += [section(p, block_id=f"answer_{i}") for i, p in enumerate(shown)]
    if len(parts) > ANSWER_SECTIONS:
        blocks.append(section(t(lang, "trimmed"), block_id="answer_more",
                              accessory=button(t(lang, "show_full"), "show_full_answer", _value({"turn": turn_ref}))))

    if answer.sources:
        blocks.append(divider())
        blocks.append(context(f"*{t(lang, 'sources')}*", block_id="sources"))
        for i, src in enumerate(answer.sources[:MAX_SOURCES], 1):
            blocks.append(section(f"*[{i}]* {escape(src.label())}", block_id=f"source_{i}",
                                  accessory=button(t(lang, "show_quote"), f"show_quote_{i}",
                                                   _value({"turn": turn_ref, "i": i - 1}))))

    notice = answer.notice or t(lang, "notice_default")
    blocks.append(context(escape(notice), block_id="notice"))
    if answer.abstained and city is not None:
        contact = city.desk.contact_line(lang)
        if city.desk.phone not in (answer.text or ""):
            blocks.append(context(escape(t(lang, "contact", contact=contact)), block_id="contact"))

    ref = _value({"turn": turn_ref})
    blocks.append(actions([
        button(t(lang, "feedback_up"), "feedback_up", ref),
        button(t(lang, "feedback_down"), "feedback_down", ref),
        button(t(lang, "handoff"), "handoff", ref, style="primary"),
        button(t(lang, "draft"), "draft_proposal",
               draft_button_value(turn_ref=turn_ref, channel=channel, thread_ts=thread_ts,
                                  question=answer.question, language=lang)),
    ], block_id="answer_actions"))
    return clamp_blocks(blocks)


def fallback_text(answer: Answer, lang: str | None = None) -> str:
    """The plain ``text`` of the message (notifications, screen readers, old clients)."""
    lead = answer.lead or (answer.text or "").strip().split("\n", 1)[0]
    return truncate(t(lang or answer_language(answer), "fallback_text", lead=escape(lead)), FALLBACK_TEXT_LIMIT)


def clamp_blocks(blocks: Sequence[Block], limit: int = MESSAGE_BLOCKS) -> list[Block]:
    """Any list of blocks made valid for one message: section texts trimmed, at most ``limit`` blocks.

    When blocks must go, the middle goes: the first blocks (the answer) and the last (notice and
    buttons) are what people need.  Other features reuse this for their own messages.
    """
    out: list[Block] = []
    for b in blocks:
        b = dict(b)
        if b.get("type") == "section" and isinstance(b.get("text"), dict):
            b["text"] = {**b["text"], "text": truncate(b["text"].get("text", ""), SECTION_LIMIT)}
        out.append(b)
    if len(out) <= limit:
        return out
    tail = [b for b in out[-3:] if b.get("type") in ("actions", "context")]
    return out[:limit - len(tail)] + tail


def modal(title: str, blocks: Sequence[Block], lang: str, *, callback_id: str = "ppp_info") -> Block:
    return _modal(callback_id, title, clamp_blocks(blocks, VIEW_BLOCKS), close=t(lang, "close"))


def quote_modal(label: str, text: str, lang: str) -> Block:
    """The quoted passage of one source, in full, with where it comes from."""
    blocks = [context(f"*{escape(label)}*")]
    blocks += [section(f"> {p.replace(chr(10), chr(10) + '> ')}") for p in split_text(escape(text), SECTION_LIMIT - 200)]
    return modal(t(lang, "quote_title"), blocks, lang, callback_id="ppp_quote")


def full_answer_modal(text: str, lang: str) -> Block:
    """The whole answer when the message had to be trimmed (a modal holds 100 blocks)."""
    blocks = [section(p) for p in split_text(to_mrkdwn(text), SECTION_LIMIT)]
    return modal(t(lang, "full_answer_title"), blocks, lang, callback_id="ppp_full_answer")


def help_blocks(prompts: Sequence[str], lang: str) -> list[Block]:
    """What an empty mention or ``/ppp`` shows: what the bot does and example questions."""
    examples = "\n".join(f"• {escape(p)}" for p in prompts)
    return [section(t(lang, "help") + ("\n" + examples if examples else ""), block_id="help")]


def text_blocks(text: str) -> list[Block]:
    return [section(p) for p in split_text(escape(text), SECTION_LIMIT)][:MESSAGE_BLOCKS]


def handoff_blocks(*, asker: str, turns: Sequence[Any], channel: str, permalink: str | None,
                   buttons: Sequence[Block] = ()) -> list[Block]:
    """The desk-channel post of a hand-off (for staff, in Japanese): who asks, where, and the Q&A.

    ``buttons`` are other features' actions on it (the knowledge loop's 「回答として公開」), last.
    """
    where = "DM" if channel.startswith("D") else f"<#{channel}>"
    blocks: list[Block] = [
        section(f":raising_hand: *担当者への相談依頼* — <@{asker}> さん（{where}）", block_id="handoff_head"),
    ]
    if permalink:
        blocks.append(context(f"<{permalink}|元のスレッドを開く>", block_id="handoff_link"))
    shown = list(turns)[-HANDOFF_TURNS:]
    if len(turns) > len(shown):
        blocks.append(context(f"（直近 {len(shown)} 件のやり取りを表示しています）"))
    for i, turn in enumerate(shown, 1):
        q = truncate(escape(turn.question), 900)
        a = truncate(to_mrkdwn(turn.answer), 1500)
        blocks.append(section(f"*質問 {i}*\n{q}\n*回答（自動・公開資料より）*\n{a}", block_id=f"handoff_turn_{i}"))
    blocks.append(context("上記はアシスタントが公開資料から自動で回答した内容です。ご確認のうえ、ご本人へご連絡ください。"))
    if buttons:
        blocks.append(actions(list(buttons), block_id="handoff_actions"))
    return clamp_blocks(blocks)
