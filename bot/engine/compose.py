"""Extractive, grounded answers: the chosen sentences quoted, each with its citation.

No LLM is needed.  Every statement is a quotation of the city's documents with a numbered citation
(document › section, page); the first line is the best sentence itself, so the answer leads with
the finding in the documents' own words and never says more than they do.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.city import CityProfile
from bot.engine.answer import Source
from bot.engine.evidence import DESK_ANSWER_TYPE, Candidate
from bot.engine.glossary import AnswerType, Glossary
from bot.engine.retrieve import Hit
from ingest.lexical import tokenize
from ingest.normalize import compact, normalize_chars

LEAD_CHARS = 220
QUOTE_CHARS = 160


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_sources(hits: list[Hit], ranks: Iterable[int]) -> tuple[list[Source], dict[int, int]]:
    """Sources for the cited hits, numbered in order of first citation."""
    numbers: dict[int, int] = {}
    sources: list[Source] = []
    for rank in ranks:
        if rank in numbers:
            continue
        chunk = hits[rank].chunk
        numbers[rank] = len(sources) + 1
        sources.append(Source(title=chunk.title, doc_type=chunk.doc_type, section=chunk.section,
                              page=chunk.page, text=chunk.text, score=hits[rank].score,
                              doc_id=chunk.doc_id, chunk_id=chunk.id))
    return sources, numbers


def _leaf(section: str) -> str:
    return section.split(" > ")[-1].strip() if section else ""


def label(c: Candidate) -> str:
    """What a quote is about when the sentence alone does not say it: case title or heading."""
    chunk = c.chunk
    title = normalize_chars(chunk.title)
    heading = c.unit.heading or _leaf(chunk.section)
    if heading.startswith(title):
        heading = heading[len(title):].lstrip(" >")
    if chunk.doc_type == DESK_ANSWER_TYPE:  # cited as 「公民連携デスク回答（… 承認）」
        return f"{title}："
    parts = [title] if chunk.doc_type == "case_study" else []
    parts.append(heading)
    return "".join(f"{p}：" for p in dict.fromkeys(parts) if p and p not in c.unit.text and len(p) <= 60)


class Layout:
    """Cites candidates as numbered sources while the answer text is written."""

    def __init__(self, chosen: list[Candidate]) -> None:
        self.hits: list[Hit] = []
        self._rank: dict[str, int] = {}
        for c in chosen:
            self.rank(c)

    def rank(self, c: Candidate) -> int:
        if c.chunk.id not in self._rank:
            self._rank[c.chunk.id] = len(self.hits)
            self.hits.append(Hit(c.chunk, c.score, c.passage, 0.0))
        return self._rank[c.chunk.id]

    def sources(self, order: list[int]) -> tuple[list[Source], dict[int, int]]:
        return build_sources(self.hits, order)


MIN_CLAUSE = 10


def finding(sentence: str, focus: tuple[str, ...], glossary: Glossary) -> str | None:
    """The clause of a long sentence that speaks to the question, verbatim ("…は対象外となります").

    None when the sentence has one clause or no clause names more of the question than the rest:
    then the whole sentence is the finding.
    """
    clauses = [c.strip() for c in glossary.clause_break.split(sentence) if c and c.strip()]
    if len(clauses) < 2:
        return None
    # Only the closing clause is a statement on its own; the others end in a connective (…であり).
    tokens = [set(tokenize(c)) for c in clauses]
    scores = [sum(1 for n in focus if n in t) for t in tokens]
    last = clauses[-1]
    if scores[-1] == 0 or scores[-1] < max(scores) or len(last) < MIN_CLAUSE:
        return None
    return last if last.endswith(("。", "！", "？")) else last + "。"


def english_gloss(texts: list[str], glossary: Glossary) -> str:
    """"Key terms: 個人事業主 = sole proprietor, …" for the glossary terms the quotes contain."""
    flat = compact(" ".join(texts))
    pairs: dict[str, str] = {}
    for en, ja in glossary.en_ja.items():
        for term in ja.split():
            if len(term) >= 2 and compact(term) in flat and term not in pairs:
                pairs[term] = en
    if not pairs:
        return ""
    items = sorted(pairs.items(), key=lambda kv: -len(kv[0]))[:6]
    return "Key terms: " + ", ".join(f"{ja} = {en}" for ja, en in items)


def compose(chosen: list[Candidate], language: str, city: CityProfile, glossary: Glossary, *,
            contact: Candidate | None = None, cases: list[Candidate] | None = None,
            focus: tuple[str, ...] = ()) -> tuple[str, str, list[Source], list[Hit]]:
    """(lead, body text, sources, cited hits) of an extractive answer."""
    layout = Layout(([contact] if contact else []) + list(cases or []) + chosen)
    lines: list[str] = []
    order: list[int] = []
    en = language == "en"

    def cite(c: Candidate) -> str:
        r = layout.rank(c)
        order.append(r)
        return f"[{r}]"  # renumbered once all citations are known

    if contact is not None:
        d = city.desk
        ref = cite(contact)
        lead = (f"You can reach {d.name} ({d.department}) by phone at {d.phone}, at {d.address}; web inquiries "
                f"go through the portal's CONTACT form ({d.web}). {ref}" if en else
                f"{d.name}（{d.department}）の連絡先は、電話 {d.phone}、住所 {d.address} です。"
                f"WEBからのお問合せはポータルサイト（{d.web}）のCONTACTからお願いいたします。{ref}")
        lines.append(lead)
        rest = chosen[:2]
    elif cases:
        lead = ("Published partnership cases close to your question:" if en else
                "公開されている連携事例のうち、ご質問に近いものは次のとおりです。")
        lines.append(lead)
        for c in cases:
            meta = c.chunk.meta
            who = "、".join(str(v) for v in (meta.get("city"), meta.get("partner")) if v)
            lines.append(f"・{normalize_chars(c.chunk.title)}{f'（{who}）' if who else ''}："
                         f"「{clip(c.unit.text, QUOTE_CHARS)}」{cite(c)}")
        rest = []  # the list is the answer
    else:
        first, rest = chosen[0], chosen[1:]
        ref = cite(first)
        quote = f"{label(first)}「{clip(first.unit.text, LEAD_CHARS)}」{ref}"
        clause = None if en else finding(first.unit.text, focus, glossary)
        if en:
            lines.append(f"The published documents state (in Japanese): {quote}")
        elif clause:
            lines += [f"{clause}{ref}", f"（資料の記載：{quote}）"]
        else:
            lines.append(quote)
    if rest:
        lines.append("")
        lines.append("Related passages:" if en else "関連する記載:")
        lines.extend(f"・{label(c)}「{clip(c.unit.text, QUOTE_CHARS)}」{cite(c)}" for c in rest)
    if en:
        gloss = english_gloss([c.unit.text for c in chosen], glossary)
        if gloss:
            lines.extend(["", gloss])
    sources, numbers = layout.sources(order)
    text = "\n".join(lines)
    for r, n in sorted(numbers.items(), key=lambda kv: -kv[0]):
        text = text.replace(f"[{r}]", f"[@{n}]")
    text = text.replace("[@", "[")
    lead_line = lines[0]
    for r, n in numbers.items():
        lead_line = lead_line.replace(f"[{r}]", f"[{n}]")
    return lead_line, text, sources, layout.hits


def asked_thing(ask: str, phrases: tuple[str, ...], kind: AnswerType) -> str | None:
    """The noun phrase the question word asks about: 「締め切り日」 in 「締め切り日はいつですか」."""
    text = normalize_chars(ask)
    match = kind.ask.search(text.casefold())
    if not match:
        return None
    for phrase in phrases:
        end = text.find(phrase) + len(phrase)
        # The question word follows the phrase ("…日はいつ") or ends it ("締め切り日は").
        if phrase in text and -2 <= match.start() - end <= 3 and not kind.ask.fullmatch(phrase.casefold()):
            return phrase
    return None


def missing_type_text(missing: list[AnswerType], related: Candidate | None, language: str,
                      city: CityProfile, contact_text: str, ask: str = "",
                      phrases: tuple[str, ...] = ()) -> tuple[str, str, list[Source]]:
    """"資料には締め切り日の記載はありません" + the closest passage as context + the desk's contact."""
    en = language == "en"
    kinds = (" or ".join(t.label("en") for t in missing) if en else "・".join(t.label("ja") for t in missing))
    thing = None if en or len(missing) != 1 else asked_thing(ask, phrases, missing[0])
    lead = (f"The published documents do not state {kinds} for this." if en else
            f"資料には、{thing}（{kinds}）の記載はありません。" if thing else
            f"資料には、ご質問の{kinds}についての記載はありません。")
    lines = [lead]
    sources: list[Source] = []
    if related is not None:
        layout = Layout([related])
        sources, _ = layout.sources([0])
        lines += ["", "The closest related passage:" if en else "関連する記載（参考）:",
                  f"・{label(related)}「{clip(related.unit.text, QUOTE_CHARS)}」[1]"]
    lines += ["", contact_text]
    return lead, "\n".join(lines), sources
