"""Text from businesses made inert before a terminal prints it.

A draft field is typed by whoever opens the modal; printed raw, ``\\x1b]52;…`` can write the
operator's clipboard, ``\\x1b[2J`` clears the screen, ``\\r`` overwrites what was printed before
and bidi overrides reorder what the operator reads.  :func:`inert` is the one function every CLI
output of stored text goes through: control characters become visible stand-ins (``␛``, ``␍``,
``\\x9b``), everything else (Japanese included) is unchanged.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls, and the bidi embedding/override/isolate marks.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NOT_ESCAPED_BY_JSON = re.compile(r"[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_KEPT_IN_TEXT = frozenset("\n\t")


def _visible(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ␀ … ␟ (ESC is ␛)
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"\\u{code:04x}" if code > 0xFF else f"\\x{code:02x}"


def inert(text: object, *, multiline: bool = True) -> str:
    """``text`` safe to print: controls shown, not obeyed.

    ``multiline`` keeps newlines and tabs (a field's own paragraphs in ``records show``); without
    it they are shown too, so one value stays on one row of a table (``records list``).
    """
    keep = _KEPT_IN_TEXT if multiline else frozenset()
    return _CONTROLS.sub(lambda m: m.group(0) if m.group(0) in keep else _visible(m.group(0)), str(text))


def inert_json(dumped: str) -> str:
    """A ``json.dumps(..., ensure_ascii=False)`` string with the controls JSON leaves raw escaped.

    JSON already escapes C0 inside strings (the newlines left are its own indentation); DEL, C1
    and bidi marks pass through.  ``\\uXXXX`` escapes keep the data identical for a program
    reading it and harmless for a person watching it.
    """
    return _NOT_ESCAPED_BY_JSON.sub(lambda m: f"\\u{ord(m.group(0)):04x}", dumped)
