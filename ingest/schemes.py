"""The desk's partnership schemes and the words that name them (pure).

One vocabulary for both ends: ingest reads a case's ``scheme`` front matter into a canonical
scheme when it builds the case profile (``ingest.profiles``), and the staff query parser
(``bot.precedents.filters``) reads ``実証実験`` or ``scheme:trial`` into the same value, so a filter
and a case always compare like with like.  It lives in ``ingest`` because ``ingest`` never imports
``bot``.
"""

from __future__ import annotations

from ingest.normalize import fold

SCHEMES = ("partnership", "trial", "agreement")

# Words (after NFKC, lower-cased) that name a scheme.  Whole tokens only: 包括連携協定 inside a
# sentence stays search text.
_SCHEME_WORDS = {
    "partnership": "partnership", "パートナーシップ": "partnership", "パートナーシップ事業": "partnership",
    "連携事業": "partnership",
    "trial": "trial", "実証実験": "trial", "実証": "trial", "実証実験サポート": "trial",
    "実証実験サポート事業": "trial", "demonstration": "trial", "poc": "trial",
    "agreement": "agreement", "協定": "agreement", "連携協定": "agreement", "包括連携協定": "agreement",
    "事業連携協定": "agreement", "連携協力協定": "agreement",
}


def parse_scheme(value: str) -> str:
    """``実証実験`` / ``trial`` / ``パートナーシップ事業`` → canonical scheme, or "" when unknown."""
    return _SCHEME_WORDS.get(fold(value).lower().replace(" ", ""), "")
