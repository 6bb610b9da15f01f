"""Case profiles: what a published case or agreement *is*, derived once when it is ingested (pure).

Staff see a precedent at a glance — partner, city, year, scheme, a one-line summary and, where the
case states them, the resources the city and the business provided.  None of that depends on the
query, and deriving it means re-reading every chunk of the document, so it is done here, when the
document's chunks are made, and stored with its manifest record (``ingest.store.DocRecord``).
Precedent search (``bot.precedents.search``) only reads it.

The one input is the document's metadata and its passages in document order; ingest passes the
chunks it just made, and a store written before profiles existed passes its stored chunks
(``ingest.index``), so both give the same profile.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from ingest.chunking import SECTION_SEP
from ingest.normalize import fold
from ingest.schemes import parse_scheme

# Document types that are precedents: published case studies and agreements.
PROFILED_TYPES = ("case_study", "agreement")
SUMMARY_CHARS = 90
_CITY_RESOURCES = re.compile(r"提供リソース\s*\(\s*市\s*\)")
_BUSINESS_RESOURCES = re.compile(r"提供リソース\s*\(\s*事業者\s*\)")
# Sections that describe outcomes or lists rather than what the case is.
_NOT_SUMMARY = re.compile(r"提供リソース|メリット|連携事項|期待される効果|締結式|問い合わせ|お問合せ")
_INLINE_HEADING = re.compile(r"^【([^【】]+)】$")


class Passage(Protocol):
    """A chunk as the profile reads it (``ingest.chunking.Chunk`` and ``ingest.index.StoredChunk``)."""

    @property
    def text(self) -> str: ...

    @property
    def section(self) -> str: ...

    @property
    def page(self) -> int | None: ...


@dataclass(frozen=True)
class CaseProfile:
    """Everything about one published case or agreement that does not depend on the query.

    ``first_section`` / ``first_page`` are where a listing (no query, so no best chunk) cites it.
    """

    doc_id: str
    kind: str
    title: str
    partner: str
    city: str
    year: int | None
    scheme: str
    field: str
    summary: str
    city_provided: tuple[str, ...]
    business_provided: tuple[str, ...]
    first_section: str = ""
    first_page: int | None = None

    def to_json(self) -> str:
        """One string: Chroma metadata holds only scalars."""
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, raw: object) -> CaseProfile | None:
        """The stored profile, or None when absent or unreadable (then it is derived again)."""
        if not isinstance(raw, str) or not raw:
            return None
        try:
            data = json.loads(raw)
            known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
            known["city_provided"] = tuple(known.get("city_provided") or ())
            known["business_provided"] = tuple(known.get("business_provided") or ())
            return cls(**known)
        except (ValueError, TypeError):
            return None


def section_lines(passages: Sequence[Passage]) -> list[tuple[str, str]]:
    """(section path, line) for every line of the document, in order.

    Small neighbouring sections are merged into one chunk by the chunker, each keeping its heading
    inline as a ``【sub > path】`` line; those headings are resolved back into section paths here.
    """
    out: list[tuple[str, str]] = []
    for passage in passages:
        section = passage.section
        for raw in passage.text.splitlines():
            line = raw.strip()
            if not line:
                continue
            inline = _INLINE_HEADING.match(line)
            if inline:
                section = SECTION_SEP.join(p for p in (passage.section, inline.group(1).strip()) if p)
                continue
            out.append((section, line))
    return out


def _item(line: str) -> str:
    return re.sub(r"^\s*(?:[-*+・●]\s*)+", "", line).strip()


def resources(lines: Sequence[tuple[str, str]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Items of the case's 「提供リソース（市）」 and 「提供リソース（事業者）」 sections, in order."""
    city: list[str] = []
    business: list[str] = []
    for section, line in lines:
        last = section.split(SECTION_SEP)[-1] if section else ""
        target = city if _CITY_RESOURCES.search(last) else business if _BUSINESS_RESOURCES.search(last) else None
        if target is not None and _item(line):
            target.append(_item(line))
    return tuple(city), tuple(business)


def one_line(text: str, limit: int = SUMMARY_CHARS) -> str:
    """``text`` on one line, cut with an ellipsis past ``limit`` characters (result lists are dense)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def summary_line(lines: Sequence[tuple[str, str]], title: str) -> str:
    """The first descriptive sentence of the document (else its longest plain line), one line long."""
    plain = [ln for section, ln in lines if not _NOT_SUMMARY.search(section) and len(ln) >= 15
             and not ln.startswith(("-", "#", "|")) and fold(ln) != fold(title)]
    for line in plain:
        if "。" in line:
            return one_line(line)
    return one_line(max(plain, key=len)) if plain else ""


def _year(value: object) -> int | None:
    text = str(value or "")[:4]
    return int(text) if text.isdigit() else None


def case_profile(doc_id: str, meta: Mapping[str, Any], passages: Sequence[Passage]) -> CaseProfile:
    """Build a case's profile from its metadata and its passages (in document order).

    Cases carry ``year``; agreements are dated by ``published``.  An agreement's partner is every
    signatory except the city itself.  The publication date of a *case collection* is not the year
    of the case, so cases without ``year`` stay undated (and a year filter excludes them).
    """
    kind = "agreement" if str(meta.get("doc_type", "")) == "agreement" else "case"
    title = str(meta.get("title", doc_id))
    city = str(meta.get("city", ""))
    partner = str(meta.get("partner", ""))
    if not partner and meta.get("issuers"):
        partner = "、".join(p.strip() for p in str(meta["issuers"]).split(",") if p.strip() and p.strip() != city)
    year = _year(meta.get("year")) or (_year(meta.get("published")) if kind == "agreement" else None)
    scheme = parse_scheme(str(meta.get("scheme", ""))) or ("agreement" if kind == "agreement" else "")
    lines = section_lines(passages)
    city_provided, business_provided = resources(lines)
    body = [p for p in passages if p.text.strip()]
    lead = next((p for p in body if not _NOT_SUMMARY.search(p.section) and len(p.text) > 30),
                body[0] if body else None)
    return CaseProfile(doc_id=doc_id, kind=kind, title=title, partner=partner, city=city, year=year, scheme=scheme,
                       field=str(meta.get("field", "")), summary=summary_line(lines, title),
                       city_provided=city_provided, business_provided=business_provided,
                       first_section=lead.section if lead else "", first_page=lead.page if lead else None)


def profile_for(doc_id: str, meta: Mapping[str, Any], passages: Sequence[Passage]) -> CaseProfile | None:
    """The profile of a precedent document; None for every other type (guidelines, FAQs, answers)."""
    if str(meta.get("doc_type", "")) not in PROFILED_TYPES:
        return None
    return case_profile(doc_id, meta, passages)
