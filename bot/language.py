"""The one language detector of the project: which language a user wrote in.

Engine, Slack layer and records all ask the same question ("answer in English or Japanese?"), so
they share this answer.  Mixed text is judged by how much of it is written in each script: an
English sentence naming a Japanese place (「Can I propose a DX project in 青森?」) is English; a
Japanese sentence with a product name in Latin letters (「LightblueさんのAIで…」) is Japanese.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_KANA = re.compile(r"[\u3040-\u30ff\uff66-\uff9f]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff66-\uff9f]")
_LATIN_WORD = re.compile(r"[A-Za-z\uff21-\uff3a\uff41-\uff5a]{2,}")
_LATIN = re.compile(r"[A-Za-z\uff21-\uff3a\uff41-\uff5a]")
# Share of the letters that must be Latin for a text to count as English.
EN_SHARE = 0.6


def detect_language(text: str | Iterable[str]) -> str:
    """``"en"`` for text written in English, ``"ja"`` otherwise (the desk's language, the default).

    Accepts one text or several (a conversation's user turns), judged together.
    """
    joined = text if isinstance(text, str) else " ".join(text)
    joined = joined or ""
    latin = len(_LATIN.findall(joined))
    cjk = len(_CJK.findall(joined))
    if len(_LATIN_WORD.findall(joined)) < 2:
        return "ja"
    # One kana or kanji carries about as much as two Latin letters.
    return "en" if latin / (latin + 2 * cjk) >= EN_SHARE else "ja"
