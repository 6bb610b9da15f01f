"""CSV for the desk's spreadsheets: the one formula-injection guard and the one writer.

Excel and LibreOffice run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, so a
business's text (a record field, a logged question) could run on a staff computer.  Every CSV we
write goes through :func:`cell`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """Spreadsheet-safe text: a value that a spreadsheet would run as a formula is quoted."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(rows: Iterable[Iterable[object]]) -> str:
    """Rows as CSV text, every cell guarded (callers write files with ``utf-8-sig`` for Excel)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return buf.getvalue()
