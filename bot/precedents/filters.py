"""Parse a staff query such as ``実証実験 AI year:2023 city:青森市 status:received`` (pure).

Staff type filters inline, in Japanese or English, the way they would into a search box: ``key:value``
options (``年度:令和5``, ``city：青森``) plus bare scheme words (``実証実験``, ``協定``) that read as a
scheme filter rather than as search text — "実証実験 AI" means "trials about AI", and ranking trials by
the word 実証実験 would only add noise.  The same :class:`Filters` object comes from the Slack modal,
so matching (:func:`matches`) lives here too and is shared by every surface.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, replace

from ingest.normalize import fold
from ingest.schemes import SCHEMES, parse_scheme

KINDS = ("case", "agreement", "record")

# Option keys in Japanese and English → canonical key.
_KEYS = {
    "scheme": "scheme", "スキーム": "scheme", "制度": "scheme", "事業": "scheme", "種別": "scheme",
    "field": "field", "theme": "field", "topic": "field", "分野": "field", "テーマ": "field", "領域": "field",
    "city": "city", "市": "city", "都市": "city", "自治体": "city", "市町村": "city",
    "year": "year", "年": "year", "年度": "year",
    "status": "status", "状態": "status", "ステータス": "status", "状況": "status",
    "kind": "kind", "type": "kind", "種類": "kind", "区分": "kind", "source": "kind",
}
# Record statuses as the desk calls them (the records feature's labels, bot/records/fields.py) →
# status codes.  Unknown values pass through lower-cased, so a code typed verbatim always works.
STATUS_ALIASES = {
    "下書き": "draft", "提出済み(受付待ち)": "submitted", "提出済み": "submitted", "提出済": "submitted",
    "受付待ち": "submitted", "受付": "received", "受付済": "received", "受付済み": "received",
    "対話・調整中": "in_dialogue", "対話": "in_dialogue", "調整中": "in_dialogue", "対話調整中": "in_dialogue",
    "担当課照会": "department_inquiry", "照会中": "department_inquiry",
    "実施決定": "approved", "決定": "approved", "採択": "approved",
    "見送り": "declined", "不採択": "declined",
    "追加情報を依頼": "info_requested", "追加情報依頼": "info_requested", "情報依頼": "info_requested",
}
_KIND_ALIASES = {
    "case": "case", "cases": "case", "事例": "case", "case_study": "case",
    "agreement": "agreement", "協定": "agreement",
    "record": "record", "records": "record", "記録": "record", "提案": "record", "intake": "record",
    "internal": "record", "受付記録": "record",
}
_ERA = {"令和": 2018, "r": 2018, "平成": 1988, "h": 1988}
_YEAR = re.compile(r"^(令和|平成|r|h)?(\d{1,4}|元)年?度?$")
_OPTION = re.compile(r"^([^\s:=]+)[:=](.*)$")


@dataclass(frozen=True)
class Filters:
    """What a result must satisfy; empty fields mean "any"."""

    schemes: frozenset[str] = frozenset()
    field: str = ""
    city: str = ""
    year_from: int | None = None
    year_to: int | None = None
    status: str = ""
    kind: str = ""

    @property
    def empty(self) -> bool:
        return self == Filters()

    @property
    def internal_only(self) -> bool:
        """A record status or ``kind:record`` can only be met by intake records."""
        return bool(self.status) or self.kind == "record"

    def describe(self) -> str:
        """Short Japanese summary for result headers (``実証実験・2023年・青森市``)."""
        labels = {"partnership": "パートナーシップ", "trial": "実証実験", "agreement": "協定"}
        parts = ["／".join(labels[s] for s in SCHEMES if s in self.schemes)] if self.schemes else []
        if self.field:
            parts.append(f"分野: {self.field}")
        if self.city:
            parts.append(self.city)
        if self.year_from is not None or self.year_to is not None:
            lo, hi = self.year_from, self.year_to
            parts.append(f"{lo}年" if lo == hi else f"{lo or ''}〜{hi or ''}年")
        if self.status:
            parts.append(f"状態: {self.status}")
        if self.kind:
            parts.append({"case": "事例", "agreement": "協定", "record": "受付記録"}[self.kind])
        return "・".join(parts)

    def to_dict(self) -> dict:
        """Compact JSON-able form (button values, modal metadata, ``--json``)."""
        out: dict = {}
        if self.schemes:
            out["scheme"] = sorted(self.schemes)
        for key in ("field", "city", "status", "kind"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.year_from is not None:
            out["year_from"] = self.year_from
        if self.year_to is not None:
            out["year_to"] = self.year_to
        return out

    @classmethod
    def from_dict(cls, data: dict | None) -> Filters:
        """Inverse of :meth:`to_dict`; unknown or malformed values are dropped, never trusted."""
        data = data or {}
        schemes = data.get("scheme") or []
        if isinstance(schemes, str):
            schemes = [schemes]
        return cls(
            schemes=frozenset(s for s in (parse_scheme(str(x)) for x in schemes) if s),
            field=_text(data.get("field")), city=_text(data.get("city")),
            year_from=_int(data.get("year_from")), year_to=_int(data.get("year_to")),
            status=parse_status(_text(data.get("status"))) if data.get("status") else "",
            kind=_KIND_ALIASES.get(_text(data.get("kind")).lower(), ""),
        )


NO_FILTERS = Filters()


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    filters: Filters = field(default_factory=Filters)
    ignored: tuple[str, ...] = ()  # options whose value could not be read (shown back to staff)


def _text(value: object) -> str:
    return fold(str(value)) if value is not None else ""


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def parse_status(value: str) -> str:
    """Japanese status label → status code; anything else is taken as a code (lower-cased)."""
    value = fold(value)
    return STATUS_ALIASES.get(value, value.lower())


def parse_year(value: str) -> int | None:
    """``2023`` / ``2023年`` / ``令和5年度`` / ``R5`` / ``令和元年`` → Western year."""
    match = _YEAR.match(fold(value).lower().replace(" ", ""))
    if not match:
        return None
    era, number = match.groups()
    n = 1 if number == "元" else int(number)
    if era:
        return _ERA[era] + n if 1 <= n <= 99 else None
    return n if 1900 <= n <= 2100 else None


def parse_year_range(value: str) -> tuple[int, int] | None:
    """A year or a range (``2022-2024``, ``2022..2024``, ``2022〜2024``); open ends allowed."""
    value = fold(value)
    for sep in ("..", "〜", "~", "-", "–"):
        if sep in value:
            lo_s, hi_s = value.split(sep, 1)
            lo = parse_year(lo_s) if lo_s.strip() else 1900
            hi = parse_year(hi_s) if hi_s.strip() else 2100
            if lo is None or hi is None or lo > hi:
                return None
            return lo, hi
    year = parse_year(value)
    return (year, year) if year is not None else None


def _split(text: str) -> list[str]:
    """Whitespace tokens, honouring quotes (``city:"北九州 市"``); unbalanced quotes fall back."""
    text = fold(text)
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def parse_query(raw: str) -> ParsedQuery:
    """Split slash-command text into search text and :class:`Filters`."""
    words: list[str] = []
    ignored: list[str] = []
    schemes: set[str] = set()
    values: dict[str, str] = {}
    year: tuple[int, int] | None = None
    for token in _split(raw or ""):
        option = _OPTION.match(token)
        key = _KEYS.get(option.group(1).lower()) if option else None
        if option and key:
            value = option.group(2).strip()
            if not value:
                ignored.append(token)
            elif key == "scheme":
                found = [parse_scheme(v) for v in re.split(r"[,、/]", value)]
                if all(found):
                    schemes.update(found)
                else:
                    ignored.append(token)
            elif key == "year":
                span = parse_year_range(value)
                if span is None:
                    ignored.append(token)
                else:
                    year = span
            elif key == "status":
                values["status"] = parse_status(value)
            elif key == "kind":
                kind = _KIND_ALIASES.get(value.lower(), "")
                if kind:
                    values["kind"] = kind
                else:
                    ignored.append(token)
            else:
                values[key] = value
            continue
        scheme = parse_scheme(token)
        if scheme:
            schemes.add(scheme)
            continue
        words.append(token)
    filters = Filters(schemes=frozenset(schemes), field=values.get("field", ""), city=values.get("city", ""),
                      year_from=year[0] if year else None, year_to=year[1] if year else None,
                      status=values.get("status", ""), kind=values.get("kind", ""))
    return ParsedQuery(text=" ".join(words), filters=filters, ignored=tuple(ignored))


def merge(base: Filters, override: Filters) -> Filters:
    """``override``'s set fields win (modal choices over typed options)."""
    changes = {k: v for k, v in override.__dict__.items() if v not in (None, "", frozenset())}
    return replace(base, **changes)


def _contains(haystack: object, needle: str) -> bool:
    return bool(needle) and fold(needle).lower() in fold(str(haystack or "")).lower()


def matches(filters: Filters, *, kind: str, scheme: str, city: str, year: int | None,
            field_text: str, status: str = "") -> bool:
    """Does one candidate (case, agreement or record) satisfy every set filter?

    Unknown values fail a set filter: a case without a year is not "a 2023 case", and only records
    have a status.  ``field_text`` is whatever describes the theme (field, title) — a contains match.
    """
    if filters.kind and kind != filters.kind:
        return False
    if filters.schemes and scheme not in filters.schemes:
        return False
    if filters.city and not _contains(city, filters.city):
        return False
    if filters.year_from is not None or filters.year_to is not None:
        if year is None:
            return False
        if filters.year_from is not None and year < filters.year_from:
            return False
        if filters.year_to is not None and year > filters.year_to:
            return False
    if filters.field and not _contains(field_text, filters.field):
        return False
    return not (filters.status and (kind != "record" or fold(status).lower() != filters.status))
