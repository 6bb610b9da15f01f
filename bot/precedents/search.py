"""Precedent search for desk staff: published cases and agreements plus the desk's own intake records.

One result per case (never per chunk): chunk hits are grouped by document, and each case is shown
with what staff need to judge it at a glance — partner, city, year, scheme, a one-line summary and,
where the case states them, the resources the city and the business provided.

Ranking is hybrid: e5 cosine and BM25 are turned into ranks over the union of both spaces and fused
(reciprocal rank fusion), so a case found by an exact term (``企業版ふるさと納税``) and one found by
meaning (``歩行者をAIで数える``) both surface.  Filters are applied before ranking, never after
paging, so a page is always full when more results exist.

The public side reads the public ``KnowledgeIndex``; the internal side reads
:class:`~bot.precedents.internal.InternalIndex`.  This module is a staff path; the business-facing
engine never imports it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bot.config import Settings
from bot.engine.retrieve import rrf
from bot.precedents.filters import NO_FILTERS, Filters, fold, matches, parse_scheme
from bot.precedents.internal import InternalIndex, RecordView
from ingest.chunking import SECTION_SEP
from ingest.index import KnowledgeIndex, StoredChunk
from ingest.lexical import tokenize
from ingest.normalize import normalize

PUBLIC_TYPES = ("case_study", "agreement")
_SUMMARY_CHARS = 90
_CITY_RESOURCES = re.compile(r"提供リソース\s*\(\s*市\s*\)")
_BUSINESS_RESOURCES = re.compile(r"提供リソース\s*\(\s*事業者\s*\)")
# Sections that describe outcomes or lists rather than what the case is.
_NOT_SUMMARY = re.compile(r"提供リソース|メリット|連携事項|期待される効果|締結式|問い合わせ|お問合せ")


@dataclass(frozen=True)
class Precedent:
    """One search result; ``kind`` is ``case``, ``agreement`` (public) or ``record`` (internal)."""

    kind: str
    title: str
    partner: str = ""
    city: str = ""
    year: int | None = None
    scheme: str = ""
    summary: str = ""
    city_provided: tuple[str, ...] = ()
    business_provided: tuple[str, ...] = ()
    citation: str = ""
    link: str = ""
    record_id: str = ""
    status: str = ""
    asks: str = ""
    field: str = ""
    doc_id: str = ""
    created_at: str = ""
    score: float = 0.0

    @property
    def internal(self) -> bool:
        return self.kind == "record"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["city_provided"] = list(self.city_provided)
        out["business_provided"] = list(self.business_provided)
        out["score"] = round(self.score, 4)
        return out


@dataclass(frozen=True)
class SearchPage:
    """A page of results; ``has_more`` drives the 「さらに表示」 button."""

    query: str
    filters: Filters
    items: list[Precedent]
    offset: int
    has_more: bool


# --- pure: a public document as a precedent -------------------------------------------------------------
@dataclass(frozen=True)
class CaseProfile:
    """Everything about one published case or agreement that does not depend on the query."""

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

    def accepts(self, filters: Filters) -> bool:
        return matches(filters, kind=self.kind, scheme=self.scheme, city=self.city, year=self.year,
                       field_text=f"{self.field} {self.title}")

    def precedent(self, score: float, section: str | None = None, page: int | None = None) -> Precedent:
        return Precedent(kind=self.kind, title=self.title, partner=self.partner, city=self.city, year=self.year,
                         scheme=self.scheme, summary=self.summary, city_provided=self.city_provided,
                         business_provided=self.business_provided, field=self.field, doc_id=self.doc_id,
                         citation=citation(self.title, self.first_section if section is None else section,
                                           self.first_page if section is None else page),
                         score=score)


def citation(title: str, section: str, page: int | None) -> str:
    """``Title › Section, p. N``, without section parts that merely repeat the title."""
    same = fold(title).replace(" ", "")
    parts = [p for p in section.split(SECTION_SEP) if p and fold(p).replace(" ", "") != same] if section else []
    label = title + (f" › {SECTION_SEP.join(parts)}" if parts else "")
    return label + (f", p. {page}" if page else "")


_INLINE_HEADING = re.compile(r"^【([^【】]+)】$")


def section_lines(chunks: Sequence[StoredChunk]) -> list[tuple[str, str]]:
    """(section path, line) for every line of the document, in order.

    Small neighbouring sections are merged into one chunk by the chunker, each keeping its heading
    inline as a ``【sub > path】`` line; those headings are resolved back into section paths here.
    """
    out: list[tuple[str, str]] = []
    for chunk in chunks:
        section = chunk.section
        for raw in chunk.text.splitlines():
            line = raw.strip()
            if not line:
                continue
            inline = _INLINE_HEADING.match(line)
            if inline:
                section = SECTION_SEP.join(p for p in (chunk.section, inline.group(1).strip()) if p)
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


def one_line(text: str, limit: int = _SUMMARY_CHARS) -> str:
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


def profile_document(doc_id: str, chunks: Sequence[StoredChunk]) -> CaseProfile:
    """Build a case's profile from its live chunks (in document order).

    Cases carry ``year``; agreements are dated by ``published``.  An agreement's partner is every
    signatory except the city itself.  The publication date of a *case collection* is not the year
    of the case, so cases without ``year`` stay undated (and a year filter excludes them).
    """
    chunks = sorted(chunks, key=lambda c: c.meta.get("position", 0))
    meta = chunks[0].meta if chunks else {}
    doc_type = str(meta.get("doc_type", ""))
    kind = "agreement" if doc_type == "agreement" else "case"
    title = str(meta.get("title", doc_id))
    city = str(meta.get("city", ""))
    partner = str(meta.get("partner", ""))
    if not partner and meta.get("issuers"):
        partner = "、".join(p.strip() for p in str(meta["issuers"]).split(",") if p.strip() and p.strip() != city)
    year = _year(meta.get("year")) or (_year(meta.get("published")) if kind == "agreement" else None)
    scheme = parse_scheme(str(meta.get("scheme", ""))) or ("agreement" if kind == "agreement" else "")
    lines = section_lines(chunks)
    city_provided, business_provided = resources(lines)
    body = [c for c in chunks if c.text.strip()]
    lead = next((c for c in body if not _NOT_SUMMARY.search(c.section) and len(c.text) > 30), body[0] if body else None)
    return CaseProfile(doc_id=doc_id, kind=kind, title=title, partner=partner, city=city, year=year, scheme=scheme,
                       field=str(meta.get("field", "")), summary=summary_line(lines, title),
                       city_provided=city_provided, business_provided=business_provided,
                       first_section=lead.section if lead else "", first_page=lead.page if lead else None)


def record_precedent(view: RecordView, score: float) -> Precedent:
    return Precedent(kind="record", title=view.title, partner=view.org_name, city=view.city, year=view.year,
                     scheme=view.scheme, summary=one_line(view.summary), asks=view.asks, field=view.field,
                     citation=f"受付記録 {view.record_id}", link=view.link, record_id=view.record_id,
                     status=view.status, created_at=view.created_at, score=score)


def _best_per_key(hits: Iterable[tuple[Any, float]]) -> dict[Any, float]:
    best: dict[Any, float] = {}
    for key, score in hits:
        if score > best.get(key, float("-inf")):
            best[key] = score
    return best


def _normalized(scores: dict[Any, float]) -> dict[Any, float]:
    """BM25 of two corpora is not comparable; each space's scores are scaled to its own best."""
    top = max(scores.values(), default=0.0)
    return {key: s / top for key, s in scores.items()} if top > 0 else {}


def _ranked(scores: dict[Any, float], tiebreak: dict[Any, float] | None = None) -> list[Any]:
    """Keys by score; equal scores (each space's best lexical match is 1.0) go by ``tiebreak``."""
    tiebreak = tiebreak or {}
    return [key for key, _ in sorted(scores.items(),
                                     key=lambda kv: (-kv[1], -tiebreak.get(kv[0], -1.0), str(kv[0])))]


def listing_order(items: Iterable[Precedent]) -> list[Precedent]:
    """Newest first; within a year, the desk's own records (latest first) before published cases."""
    ordered = sorted(items, key=lambda p: p.title)
    ordered.sort(key=lambda p: p.created_at, reverse=True)
    ordered.sort(key=lambda p: (-(p.year or 0), p.kind != "record"))
    return ordered


# --- I/O: both spaces ---------------------------------------------------------------------------------
class PrecedentSearch:
    """Searches the public case studies/agreements and the internal records together."""

    def __init__(self, settings: Settings, internal: InternalIndex, public: KnowledgeIndex | None = None) -> None:
        self.settings = settings
        self.public = public or KnowledgeIndex(settings)
        self.internal = internal
        self._profiles: dict[str, CaseProfile] = {}
        self._profiles_of: int | None = None
        self._lock = threading.Lock()

    def profiles(self) -> dict[str, CaseProfile]:
        """Profiles of the live public cases and agreements (rebuilt when the index reloads)."""
        with self._lock:
            if self._profiles_of != id(self.public.chunks):
                by_doc: dict[str, list[StoredChunk]] = {}
                for chunk in self.public.chunks.values():
                    if chunk.doc_type in PUBLIC_TYPES:
                        by_doc.setdefault(chunk.doc_id, []).append(chunk)
                self._profiles = {doc_id: profile_document(doc_id, chunks) for doc_id, chunks in by_doc.items()}
                self._profiles_of = id(self.public.chunks)
            return self._profiles

    def search(self, query: str, filters: Filters = NO_FILTERS, limit: int = 10, offset: int = 0,
               exclude_record_ids: Iterable[str] = ()) -> SearchPage:
        """Ranked precedents for ``query`` (free text; options already parsed into ``filters``)."""
        limit = max(1, min(int(limit), 100))
        offset = max(0, int(offset))
        text = normalize(query or "").strip()
        exclude = {str(r) for r in exclude_record_ids}
        want = offset + limit + 1
        results = self._ranked(text, filters, want, exclude) if text else self._listing(filters, exclude)
        return SearchPage(query=text, filters=filters, items=results[offset:offset + limit], offset=offset,
                          has_more=len(results) > offset + limit)

    def _public_profiles(self, filters: Filters) -> dict[str, CaseProfile]:
        if filters.internal_only:
            return {}
        return {d: p for d, p in self.profiles().items() if p.accepts(filters)}

    def _listing(self, filters: Filters, exclude: set[str]) -> list[Precedent]:
        """No search text: every match, newest first (filters alone are a question too)."""
        out = [p.precedent(0.0) for p in self._public_profiles(filters).values()]
        if filters.kind in ("", "record"):
            records = self.internal.records()
            allowed = self.internal.allowed(filters, exclude)
            views = records.values() if allowed is None else (records[r] for r in allowed if r in records)
            out.extend(record_precedent(v, 0.0) for v in views)
        return listing_order(out)

    def _ranked(self, text: str, filters: Filters, want: int, exclude: set[str]) -> list[Precedent]:
        vector = self.public.store.embeddings.embed_query(text)
        tokens = tokenize(text)
        profiles = self._public_profiles(filters)
        dense: dict[Any, float] = {}
        lexical: dict[Any, float] = {}
        best_chunk: dict[str, tuple[float, StoredChunk]] = {}
        if profiles:
            n = sum(1 for c in self.public.chunks.values() if c.doc_type in PUBLIC_TYPES)
            for chunk, score in self.public.dense_by_vector(vector, n, where={"doc_type": {"$in": list(PUBLIC_TYPES)}}):
                if chunk.doc_id in profiles:
                    dense[("doc", chunk.doc_id)] = max(score, dense.get(("doc", chunk.doc_id), -1.0))
                    if score > best_chunk.get(chunk.doc_id, (-2.0, chunk))[0]:
                        best_chunk[chunk.doc_id] = (score, chunk)
            hits = self.public.lexical_search(tokens, len(self.public),
                                              keep=lambda c: c.doc_id in profiles) if tokens else []
            lexical.update(_normalized(_best_per_key((("doc", c.doc_id), s) for c, s in hits)))
        records: dict[str, RecordView] = {}
        if filters.kind in ("", "record"):
            pool = max(30, 2 * want)
            for view, score in self.internal.dense(vector, pool, filters, exclude):
                dense[("rec", view.record_id)] = score
                records[view.record_id] = view
            rec_lex = self.internal.lexical(tokens, pool, filters, exclude) if tokens else []
            for view, _ in rec_lex:
                records[view.record_id] = view
            lexical.update(_normalized({("rec", v.record_id): s for v, s in rec_lex}))
        fused = rrf([_ranked(dense), _ranked(lexical, dense)])
        out: list[Precedent] = []
        for key in _ranked(fused, dense):
            space, ident = key
            if space == "doc":
                _s, chunk = best_chunk.get(ident, (0.0, None))
                profile = profiles[ident]
                out.append(profile.precedent(fused[key], chunk.section if chunk else None,
                                             chunk.page if chunk else None))
            else:
                out.append(record_precedent(records[ident], fused[key]))
        return out

    def similar(self, text: str, k: int = 3, exclude_record_id: str | None = None) -> list[dict[str, Any]]:
        """The ``k`` most similar earlier cases and records, as plain dicts for the intake card."""
        exclude = [exclude_record_id] if exclude_record_id else []
        page = self.search(text, NO_FILTERS, limit=k, exclude_record_ids=exclude)
        return [similar_dict(p) for p in page.items]


def similar_dict(p: Precedent) -> dict[str, Any]:
    """The ``similar_precedents`` contract: title, summary, link_or_citation, kind (case|record), …"""
    return {"title": p.title, "summary": p.summary, "link_or_citation": p.link or p.citation,
            "kind": "record" if p.internal else "case", "city": p.city, "year": p.year, "scheme": p.scheme,
            "score": round(p.score, 4), "partner": p.partner, "record_id": p.record_id, "status": p.status,
            "doc_type": {"case": "case_study"}.get(p.kind, p.kind)}


__all__ = ["Precedent", "PrecedentSearch", "SearchPage"]
