"""Precedent search for desk staff: published cases and agreements plus the desk's own intake records.

One result per case (never per chunk): chunk hits are grouped by document, and each case is shown
with what staff need to judge it at a glance — partner, city, year, scheme, a one-line summary and,
where the case states them, the resources the city and the business provided.  That profile does not
depend on the query: ingest derives it once per document (``ingest.profiles``) and stores it in the
manifest, and this module only reads it (``KnowledgeIndex.profiles``).

Ranking is hybrid: e5 cosine and BM25 are turned into ranks over the union of both spaces and fused
(reciprocal rank fusion), so a case found by an exact term (``企業版ふるさと納税``) and one found by
meaning (``歩行者をAIで数える``) both surface.  Filters are applied before ranking, never after
paging, so a page is always full when more results exist.

The public side reads the public ``KnowledgeIndex``; the internal side reads
:class:`~bot.precedents.internal.InternalIndex`.  This module is a staff path; the business-facing
engine never imports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from bot.config import Settings
from bot.engine.retrieve import rrf
from bot.precedents.filters import NO_FILTERS, Filters, fold, matches
from bot.precedents.internal import InternalIndex, RecordView
from ingest.chunking import SECTION_SEP
from ingest.index import KnowledgeIndex, StoredChunk
from ingest.lexical import tokenize
from ingest.normalize import normalize
from ingest.profiles import PROFILED_TYPES, CaseProfile, one_line


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
def profile_accepts(profile: CaseProfile, filters: Filters) -> bool:
    """Whether a published case or agreement passes ``filters`` (the same test records get)."""
    return matches(filters, kind=profile.kind, scheme=profile.scheme, city=profile.city, year=profile.year,
                   field_text=f"{profile.field} {profile.title}")


def case_precedent(profile: CaseProfile, score: float, section: str | None = None,
                   page: int | None = None) -> Precedent:
    """A case as a result, cited at its best-matching chunk (``section``) or, listed, at its lead."""
    return Precedent(kind=profile.kind, title=profile.title, partner=profile.partner, city=profile.city,
                     year=profile.year, scheme=profile.scheme, summary=profile.summary,
                     city_provided=profile.city_provided, business_provided=profile.business_provided,
                     field=profile.field, doc_id=profile.doc_id,
                     citation=citation(profile.title, profile.first_section if section is None else section,
                                       profile.first_page if section is None else page),
                     score=score)


def citation(title: str, section: str, page: int | None) -> str:
    """``Title › Section, p. N``, without section parts that merely repeat the title."""
    same = fold(title).replace(" ", "")
    parts = [p for p in section.split(SECTION_SEP) if p and fold(p).replace(" ", "") != same] if section else []
    label = title + (f" › {SECTION_SEP.join(parts)}" if parts else "")
    return label + (f", p. {page}" if page else "")


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

    def profiles(self) -> dict[str, CaseProfile]:
        """Profiles of the live public cases and agreements, as ingest stored them in the manifest."""
        return self.public.profiles

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
        return {d: p for d, p in self.profiles().items() if profile_accepts(p, filters)}

    def _listing(self, filters: Filters, exclude: set[str]) -> list[Precedent]:
        """No search text: every match, newest first (filters alone are a question too)."""
        out = [case_precedent(p, 0.0) for p in self._public_profiles(filters).values()]
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
            n = sum(1 for c in self.public.chunks.values() if c.doc_type in PROFILED_TYPES)
            for chunk, score in self.public.dense_by_vector(vector, n, where={"doc_type": {"$in": list(PROFILED_TYPES)}}):
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
                out.append(case_precedent(profiles[ident], fused[key], chunk.section if chunk else None,
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
