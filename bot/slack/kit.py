"""The one Block Kit builder: every block, element, text object and view a feature posts is made here.

Slack rejects a whole message or view when one text is over its limit, so each builder cuts its text
to the limit Slack sets for that place, with :func:`bot.slack.escape.truncate` (never inside an
``&amp;``-style entity).  ``mrkdwn`` texts are markup the caller composed: values quoted from users or
documents go in through :func:`escape` (re-exported here, so a feature needs only this module).
``plain_text`` is not parsed by Slack, so it is cut and never escaped (``&lt;`` would show literally).
Features build no block dicts of their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from bot.slack.escape import escape, truncate

__all__ = ["escape", "truncate"]  # re-exported: bot.slack.escape is where they live

Block = dict[str, Any]

SECTION_LIMIT = 3000  # a section's or a context element's mrkdwn
FIELD_LIMIT = 2000  # one of a section's fields
HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
CONFIRM_TEXT_LIMIT = 300
HINT_LIMIT = 150
OPTION_VALUE_LIMIT = 150
OPTIONS_LIMIT = 100  # options of one select
TITLE_LIMIT = 24  # a view's title, submit and close
METADATA_LIMIT = 3000
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100  # a modal or the App Home


# --- text objects -------------------------------------------------------------------------------------


def plain(text: str, limit: int = BUTTON_TEXT_LIMIT) -> Block:
    """A ``plain_text`` object, cut to ``limit`` (shown as written: not escaped)."""
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def mrkdwn(text: str, limit: int = SECTION_LIMIT) -> Block:
    """A ``mrkdwn`` object, cut to ``limit`` without splitting an entity."""
    return {"type": "mrkdwn", "text": truncate(text, limit)}


# --- blocks -------------------------------------------------------------------------------------------


def _with_id(block: Block, block_id: str | None) -> Block:
    if block_id:
        block["block_id"] = block_id
    return block


def section(text: str, *, block_id: str | None = None, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if accessory:
        block["accessory"] = accessory
    return _with_id(block, block_id)


def fields(texts: Iterable[str], *, block_id: str | None = None) -> Block:
    """A section of side-by-side mrkdwn fields (Slack shows ten at most)."""
    return _with_id({"type": "section", "fields": [mrkdwn(t, FIELD_LIMIT) for t in texts][:10]}, block_id)


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, HEADER_LIMIT)}


def context(text: str, *, block_id: str | None = None) -> Block:
    return _with_id({"type": "context", "elements": [mrkdwn(text)]}, block_id)


def divider() -> Block:
    return {"type": "divider"}


def actions(elements: Sequence[Block], *, block_id: str | None = None) -> Block:
    return _with_id({"type": "actions", "elements": list(elements)}, block_id)


def preformatted(text: str) -> Block:
    """A section showing ``text`` (escaped here) as a code block."""
    return section("```" + truncate(escape(text), SECTION_LIMIT - 6) + "```")


# --- interactive elements -----------------------------------------------------------------------------


def confirm(title: str, text: str, yes: str, no: str, *, style: str | None = None) -> Block:
    """The "are you sure?" dialog of a button (all plain text)."""
    dialog: Block = {"title": plain(title, 100), "text": plain(text, CONFIRM_TEXT_LIMIT),
                     "confirm": plain(yes, 30), "deny": plain(no, 30)}
    if style:
        dialog["style"] = style
    return dialog


def button(text: str, action_id: str, value: str = "", *, style: str | None = None,
           confirm: Block | None = None, url: str | None = None) -> Block:
    """A button; a value over Slack's limit is a bug of the caller, so it raises rather than cut."""
    el: Block = {"type": "button", "text": plain(text), "action_id": action_id}
    if value:
        if len(value) > BUTTON_VALUE_LIMIT:
            raise ValueError(f"button value of {action_id} is {len(value)} characters")
        el["value"] = value
    if url:
        el["url"] = url
    if style:
        el["style"] = style
    if confirm:
        el["confirm"] = confirm
    return el


def json_value(data: dict[str, Any]) -> str:
    """A button value holding ``data`` (read back with ``bot.slack.payload.parse_value``)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def option(text: str, value: str) -> Block:
    return {"text": plain(text), "value": value[:OPTION_VALUE_LIMIT]}


def text_input(action_id: str, *, initial: str = "", multiline: bool = False, max_length: int | None = None,
               placeholder: str | None = None) -> Block:
    element: Block = {"type": "plain_text_input", "action_id": action_id, "multiline": multiline}
    if max_length:
        element["max_length"] = max_length
    if initial:
        element["initial_value"] = initial[:max_length or 3000]
    if placeholder:
        element["placeholder"] = plain(placeholder, HINT_LIMIT)
    return element


def choice(kind: str, action_id: str, options: Sequence[Block], *, initial: str | Sequence[str] | None = None,
           placeholder: str | None = None) -> Block:
    """A ``static_select``, ``radio_buttons`` or ``checkboxes`` element; ``initial`` picks by value."""
    element: Block = {"type": kind, "action_id": action_id, "options": list(options)[:OPTIONS_LIMIT]}
    if placeholder:
        element["placeholder"] = plain(placeholder)
    if kind == "checkboxes":
        wanted = list(initial or [])
        chosen = [o for v in wanted for o in element["options"] if o["value"] == v]
        if chosen:
            element["initial_options"] = chosen
    else:
        picked = next((o for o in element["options"] if initial and o["value"] == initial), None)
        if picked:
            element["initial_option"] = picked
    return element


def input_block(block_id: str, label: str, element: Block, *, optional: bool | None = None,
                hint: str | None = None) -> Block:
    block: Block = {"type": "input", "block_id": block_id, "label": plain(label), "element": element}
    if optional is not None:
        block["optional"] = optional
    if hint:
        block["hint"] = plain(hint, HINT_LIMIT)
    return block


# --- views --------------------------------------------------------------------------------------------


def modal(callback_id: str, title: str, blocks: Sequence[Block], *, close: str, submit: str | None = None,
          metadata: str | dict[str, Any] | None = None, notify_on_close: bool = False) -> Block:
    """A modal; ``metadata`` (a dict is JSON-encoded) travels back in ``private_metadata``.

    ``notify_on_close``: Slack sends ``view_closed`` when the user cancels (to clean up after it).
    """
    view: Block = {"type": "modal", "callback_id": callback_id, "title": plain(title, TITLE_LIMIT),
                   "close": plain(close, TITLE_LIMIT), "blocks": list(blocks)[:VIEW_BLOCKS]}
    if submit:
        view["submit"] = plain(submit, TITLE_LIMIT)
    if metadata is not None:
        raw = metadata if isinstance(metadata, str) else json.dumps(metadata, ensure_ascii=False)
        view["private_metadata"] = raw[:METADATA_LIMIT]
    if notify_on_close:
        view["notify_on_close"] = True
    return view


def home(blocks: Sequence[Block]) -> Block:
    return {"type": "home", "blocks": list(blocks)[:VIEW_BLOCKS]}
