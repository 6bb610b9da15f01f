"""Text normalization shared by documents and queries.

PDF extraction of Japanese documents leaves damage that no tokenizer repairs: CJK radical
look-alikes (``公⺠連携`` instead of ``公民連携``), replacement characters, odd spaces and lines broken
inside a sentence.  The same :func:`normalize` runs on every document and every query, so that a
query typed with ordinary characters finds text extracted with radicals, and vice versa.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from importlib import resources

_SENTENCE_END = "。！？!?」』）)"
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
# A line that starts a new structural unit must never be glued onto the previous line.
_BLOCK_START = re.compile(
    r"^(#|\||[-*+・●○〇◆■□※>\u2460-\u2473]|\d+[.)．、]|\d+\s|\(\d+\)|【|〔|《|<!--|第[0-9一二三四五六七八九十]+)"
)
_CIRCLED = re.compile("([\u2460-\u2473])")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\u30fc々〆]")


@cache
def _radical_table() -> dict[int, str]:
    """Map CJK Radicals Supplement code points to their equivalent unified ideographs.

    NFKC already folds the Kangxi Radicals block; the Supplement block has no decomposition, so the
    Unicode ``EquivalentUnifiedIdeograph`` data shipped in ``ingest/data`` is applied on top.
    """
    table: dict[int, str] = {}
    text = resources.files("ingest").joinpath("data/EquivalentUnifiedIdeograph.txt").read_text("utf-8")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        src, dst = (part.strip() for part in line.split(";"))
        first, _, last = src.partition("..")
        for cp in range(int(first, 16), int(last or first, 16) + 1):
            table[cp] = chr(int(dst, 16))
    return table


def normalize_chars(text: str) -> str:
    """Character-level repair: NFKC, radicals → ideographs, U+FFFD and odd spaces cleaned."""
    # Circled numbers (①②…) mark list items in Japanese documents; NFKC would flatten them to
    # plain digits and lose that structure, so they are kept as they are.
    text = "".join(
        part if _CIRCLED.fullmatch(part) else unicodedata.normalize("NFKC", part)
        for part in _CIRCLED.split(text)
    )
    text = text.translate(_radical_table()).translate(_ZERO_WIDTH)
    text = text.replace("\ufffd", " ").replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[^\S\n]+", " ", text)  # tabs, NBSP and friends → one space
    return "\n".join(line.strip() for line in text.split("\n"))


def _looks_like_heading(line: str) -> bool:
    return bool(_BLOCK_START.match(line)) and len(line) <= 40 and "。" not in line


def join_broken_lines(text: str) -> str:
    """Join lines that PDF extraction broke inside a sentence.

    A line is continued when it ends mid-sentence (no sentence-final punctuation), is not itself a
    heading or list item, and the next line is ordinary text rather than a new block.
    """
    out: list[str] = []
    for line in text.split("\n"):
        prev = out[-1] if out else ""
        if (
            prev
            and line
            and prev[-1] not in _SENTENCE_END
            and not _looks_like_heading(prev)
            and not _BLOCK_START.match(line)
            and _CJK.match(prev[-1])
            and _CJK.match(line[0])
        ):
            out[-1] = prev + line
        else:
            out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def normalize(text: str) -> str:
    """Normalize a document or a query (the one function both sides go through)."""
    return join_broken_lines(normalize_chars(text))


def fold(text: str) -> str:
    """NFKC with collapsed spaces: the light form metadata and filter values are compared in.

    Lighter than :func:`normalize` on purpose: titles, cities and list items are compared and
    shown as written, only width variants and stray spaces are evened out.
    """
    return " ".join(unicodedata.normalize("NFKC", text).split())


def compact(text: str) -> str:
    """Normalized text with all whitespace removed and case folded, for substring matching."""
    return re.sub(r"\s+", "", normalize_chars(text)).casefold()
