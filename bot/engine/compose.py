"""Extractive, grounded answers: pick the sentences that answer, quote them, cite them.

No LLM is needed.  Sentences come only from retrieved chunks, so every statement in an answer is
a quotation of the city's documents with a numbered citation (document › section, page).  The
lead line is the best-supported sentence itself — the finding in the documents' own words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.answer import Source
from bot.city import CityProfile
from bot.engine.retrieve import Hit
from ingest.lexical import tokenize
from ingest.normalize import compact as compact_text
from ingest.normalize import normalize_chars

# Words that appear in almost any question and say nothing about what is asked.
STOP_TOKENS = frozenset("""
教える 有る ある 出来る できる 為る する 成る なる 居る いる 下さる くださる 何 どう どの どんな いつ 誰 だれ
良い よい 場合 事 こと 物 もの 方 ため 為 について 市 本市 私 我々 当社 弊社 御社 貴市 ください
思う 知る 聞く 言う 行う 可能 必要 予定 一 つ 的 等 など 中 上 時 今回 今 ここ そこ それ これ あれ
what how when who which can do does is are the a an of to for in on from and or we you us our your it
there any be with about please tell me i my
""".split())

# Words that signal the sentence answers a question of the category (added to term overlap).
ANSWER_CUES: dict[str, tuple[str, ...]] = {
    "eligibility": ("対象外", "不可", "民間企業", "団体", "個人事業主", "受け付ける"),
    "cost": ("費用", "負担", "補償", "賠償", "予算"),
    "confidentiality": ("秘密", "第三者", "開示", "情報公開", "協議", "配慮", "法令", "遵守"),
    "required_info": ("所属", "氏名", "連絡先", "必要事項", "入力"),
    "process": ("必須", "早め", "回答", "24時間", "受付", "調整", "判断"),
    "contact": ("電話", "〒", "住所", "問合せ", "CONTACT"),
    "scheme": ("分野", "提供", "募集", "役割", "締結", "支援"),
    "precedent": ("実証実験", "実施", "活用", "連携"),
    "agreement": ("設置", "締結", "目指", "協定"),
}

MAX_QUOTES = 3
PHRASE_WEIGHT = 3.0
MAX_QUOTE_CHARS = 220
_SPLIT = re.compile(r"(?<=[。！？!?])")
_BULLET = re.compile(r"^(?:[-*・●〇○]|\d+[.)]|\|)\s*")


# Which kinds of document answer which kind of question (a soft preference, not a filter).
PREFERRED_DOC_TYPES: dict[str, frozenset[str]] = {
    "precedent": frozenset({"case_study"}),
    "agreement": frozenset({"agreement", "case_study"}),
}
POLICY_DOC_TYPES = frozenset({"guideline", "overview"})
_SUBHEADING = re.compile(r"^【(.+)】$")


@dataclass(frozen=True)
class Sentence:
    text: str
    hit_rank: int
    tokens: frozenset[str]
    heading: str = ""  # the inline sub-heading (【…】) the sentence sits under, if any


def salient_tokens(question: str, extra_stop: frozenset[str] = frozenset()) -> frozenset[str]:
    """Content tokens of the question that an answer must speak to.

    ``extra_stop`` holds words every question to this desk may contain (the city's own name).
    """
    return frozenset(t for t in tokenize(question) if t not in STOP_TOKENS and t not in extra_stop)


_PHRASE_POS = {"名詞", "接頭辞", "接尾辞"}


def key_phrases(question: str) -> list[str]:
    """Noun compounds of the question ("事業連携協定", "自由提案"), as written.

    A question that names several things ("AとBの違い") needs a sentence about each of them;
    literal phrases find those even when their words are common on their own.
    """
    from sudachipy import SplitMode

    from ingest.lexical import _tokenizer
    from ingest.normalize import normalize

    phrases, run = [], []
    for m in _tokenizer().tokenize(normalize(question), SplitMode.C):
        if m.part_of_speech()[0] in _PHRASE_POS and m.part_of_speech()[1] != "数詞":
            run.append(m.surface())
            continue
        if run:
            phrases.append("".join(run))
        run = []
    if run:
        phrases.append("".join(run))
    return [p for p in dict.fromkeys(phrases) if len(p) >= 3 and p not in STOP_TOKENS]


def split_sentences(text: str) -> list[tuple[str, str]]:
    """(sub-heading, sentence) pairs of a chunk, without bullets or table pipes."""
    out = []
    heading = ""
    for line in text.split("\n"):
        line = line.strip()
        if not line or set(line) <= set("|-: "):
            continue
        sub = _SUBHEADING.match(line)
        if sub:
            heading = sub.group(1)
            continue
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|") if c.strip()]
            line = "：".join(cells)
        line = _BULLET.sub("", line)
        for part in _SPLIT.split(line):
            part = part.strip()
            if len(part) >= 4:
                out.append((heading, part))
    return out


def _clip(text: str, limit: int = MAX_QUOTE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Composer:
    """Scores sentences of retrieved chunks and lays out the answer (pure given its inputs)."""

    def __init__(self, idf: dict[str, float]) -> None:
        self.idf = idf

    def _weight(self, token: str) -> float:
        return self.idf.get(token, 1.0)

    def candidates(self, hits: list[Hit]) -> list[Sentence]:
        seen, out = set(), []
        for rank, hit in enumerate(hits):
            for heading, s in split_sentences(hit.chunk.text):
                if s in seen:
                    continue
                seen.add(s)
                out.append(Sentence(s, rank, frozenset(tokenize(s)), heading))
        return out

    def score(self, sentence: Sentence, salient: frozenset[str], category: str,
              section_tokens: frozenset[str] = frozenset(), doc_type: str = "",
              phrases: list[str] | None = None) -> float:
        overlap = sum(self._weight(t) for t in salient & (sentence.tokens | section_tokens))
        cue = sum(1.0 for c in ANSWER_CUES.get(category, ()) if c in sentence.text)
        rank_bonus = 0.8 / (sentence.hit_rank + 1)
        preferred = PREFERRED_DOC_TYPES.get(category, POLICY_DOC_TYPES)
        # A bare label ("自由提案/課題提案") names the asked-about things without saying anything
        # about them: what is left once the question's own phrases are removed is what it says.
        rest = compact_text(sentence.text)
        for p in phrases or ():
            rest = rest.replace(p, "")
        substance = min(1.0, len(re.sub(r"[\W_]", "", rest)) / 10)
        return (overlap + cue) * substance + rank_bonus + (1.5 if doc_type in preferred else 0.0)

    def select(self, hits: list[Hit], salient: frozenset[str], category: str,
               phrases: list[str] | None = None) -> list[Sentence]:
        """Up to MAX_QUOTES sentences, greedily covering the question's terms and phrases (MMR-like)."""
        phrases = [compact_text(p) for p in phrases or []]
        sentences = self.candidates(hits)
        section_tokens = {rank: frozenset(tokenize(h.chunk.section + " " + h.chunk.title))
                          for rank, h in enumerate(hits)}

        def context(s: Sentence) -> frozenset[str]:
            return s.tokens | section_tokens[s.hit_rank] | (frozenset(tokenize(s.heading)) if s.heading
                                                             else frozenset())

        def phrases_in(s: Sentence) -> set[str]:
            where = compact_text(s.heading + s.text + hits[s.hit_rank].chunk.section.split(" > ")[-1])
            return {p for p in phrases if p in where}

        scored = sorted(((self.score(s, salient, category, context(s) - s.tokens,
                                     hits[s.hit_rank].chunk.doc_type, phrases), s) for s in sentences),
                        key=lambda x: -x[0])
        chosen: list[Sentence] = []
        covered: set[str] = set()
        covered_phrases: set[str] = set()
        first_score = 0.0
        for _ in range(MAX_QUOTES):
            best, best_gain = None, 0.0
            for base, s in scored:
                if s in chosen:
                    continue
                new_terms = (salient & context(s)) - covered
                new_phrases = phrases_in(s) - covered_phrases
                if chosen and not new_terms and not new_phrases and base < 0.6 * first_score:
                    continue  # adds nothing the answer does not already say
                gain = base + sum(self._weight(t) for t in new_terms) + PHRASE_WEIGHT * len(new_phrases)
                if chosen and not new_phrases and gain < 0.5 * first_score:
                    continue  # much weaker than the lead and names nothing new
                if gain > best_gain:
                    best, best_gain = s, gain
            if best is None:
                break
            if not chosen:
                first_score = best_gain
            chosen.append(best)
            covered |= salient & context(best)
            covered_phrases |= phrases_in(best)
        return chosen


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


def quote_line(sentence: Sentence, hits: list[Hit], number: int) -> str:
    """「quote」[n], prefixed by what it is about when the sentence alone does not say it.

    A case study is named by its title; elsewhere the nearest heading (inline 【…】 or section).
    """
    chunk = hits[sentence.hit_rank].chunk
    title = normalize_chars(chunk.title)
    heading = sentence.heading or _leaf(chunk.section)
    labels = [title] if chunk.doc_type == "case_study" else []
    if heading.startswith(title):
        heading = heading[len(title):].lstrip(" >")
    labels.append(heading)
    prefix = "".join(f"{lab}：" for lab in dict.fromkeys(labels)
                     if lab and lab not in sentence.text and len(lab) <= 60)
    return f"{prefix}「{_clip(sentence.text)}」[{number}]"


def compose_extractive(hits: list[Hit], chosen: list[Sentence], category: str,
                       language: str, city: CityProfile, contact_hit: int | None = None
                       ) -> tuple[str, str, list[Source]]:
    """(lead, body text, sources) for an extractive answer."""
    ranks = ([contact_hit] if contact_hit is not None else []) + [s.hit_rank for s in chosen]
    sources, numbers = build_sources(hits, ranks)
    lines: list[str] = []
    if category == "contact" and contact_hit is not None:
        d = city.desk
        n = numbers[contact_hit]
        if language == "en":
            lead = (f"You can reach {d.name} ({d.department}) by phone at {d.phone}, at {d.address}; "
                    f"web inquiries go through the portal's CONTACT form ({d.web}). [{n}]")
        else:
            lead = (f"{d.name}（{d.department}）の連絡先は、電話 {d.phone}、住所 {d.address} です。"
                    f"WEBからのお問合せはポータルサイト（{d.web}）のCONTACTからお願いいたします。[{n}]")
        lines.append(lead)
        rest = chosen
    else:
        first, rest = chosen[0], chosen[1:]
        n = numbers[first.hit_rank]
        if language == "en":
            lead = f"The published documents state (in Japanese): {quote_line(first, hits, n)}"
        else:
            lead = f"資料には次のとおり記載されています。{quote_line(first, hits, n)}"
        lines.append(lead)
    if rest:
        lines.append("")
        lines.append("Related passages:" if language == "en" else "関連する記載:")
        lines.extend(f"・{quote_line(s, hits, numbers[s.hit_rank])}" for s in rest)
    return lead, "\n".join(lines), sources


def idf_table(token_lists: Iterable[list[str]]) -> dict[str, float]:
    """Inverse document frequency over chunks, for weighting question terms."""
    df: dict[str, int] = {}
    n = 0
    for tokens in token_lists:
        n += 1
        for t in set(tokens):
            df[t] = df.get(t, 0) + 1
    return {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
