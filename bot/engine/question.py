"""The question, normalized once: text, language, the ask, its nouns, what kind of answer it wants.

Every stage of the engine reads this one object.  In a long message the *ask* is the question
sentence(s) — not the self-introduction or the background before them — and both are used: the
ask to pick sentences, the whole message to find passages.  A short follow-up in a thread
("NPOの場合も同じですか？") inherits the previous turn's ask as its context.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.engine.glossary import AnswerType, Glossary
from bot.language import detect_language
from ingest.lexical import content_nouns, noun_phrases
from ingest.normalize import normalize

_SENTENCE_END = re.compile(r"(?<=[。！？!?\n])|(?<=[.]) (?=[A-Z])")
MAX_ASK_PARTS = 3
WHOLE_CHARS = 80
# A follow-up this short (in characters) is read with the previous turn even without a marker.
SHORT_FOLLOW_UP = 12
# Longer than this (in characters), a turn stands on its own whatever words it starts with.
FOLLOW_UP_MAX = 40


@dataclass(frozen=True)
class Question:
    text: str  # as typed, stripped
    normalized: str
    language: str  # "ja" | "en"
    ask_parts: tuple[str, ...]  # the question sentences, at most MAX_ASK_PARTS
    expansion: str = ""  # document-side terms for the ask's words (glossary)
    expected: tuple[AnswerType, ...] = ()
    wants_cases: bool = False
    wants_contact: bool = False
    context: str = ""  # the previous turn's ask, when this is a follow-up
    nouns: tuple[str, ...] = field(default=())  # what the ask is about (index tokens)
    related: tuple[str, ...] = field(default=())  # the glossary's document terms for the ask's words
    phrases: tuple[str, ...] = field(default=())  # the ask's noun compounds, as written

    @property
    def ask(self) -> str:
        own = " ".join(self.ask_parts)
        return f"{self.context} {own}".strip() if self.context else own

    @property
    def whole(self) -> str:
        """The message around the ask (with its follow-up context): what finds passages.

        Background far before the question ("弊社は…を製造しており…") costs the model time and
        says little about the passage wanted: only WHOLE_CHARS characters before the ask are kept.
        """
        text = self.normalized
        if re.sub(r"\s+", "", text) == re.sub(r"\s+", "", " ".join(self.ask_parts)):
            return self.ask  # nothing but questions: the same text, embedded once
        first = text.find(self.ask_parts[0]) if self.ask_parts else -1
        if first > WHOLE_CHARS:
            text = text[first - WHOLE_CHARS:]
        return f"{self.context} {text}".strip() if self.context else text

    @property
    def is_follow_up(self) -> bool:
        return bool(self.context)


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def ask_parts(normalized: str, glossary: Glossary) -> tuple[str, ...]:
    """The question sentences of a message (the last ones when there are many); all of it if none."""
    sentences = split_sentences(normalized)
    asks = [s for s in sentences if glossary.question.search(s)]
    if not asks:
        return (normalized,) if normalized else ()
    return tuple(asks[-MAX_ASK_PARTS:])


def may_be_follow_up(text: str) -> bool:
    """Short enough to lean on the previous turn without saying so ("作品はどこで展示されましたか？")."""
    return len(re.sub(r"\s+", "", text)) <= FOLLOW_UP_MAX


def looks_like_follow_up(text: str, glossary: Glossary) -> bool:
    """A short turn that leans on the previous one: a marker ("それは…", "…の場合は？") or very short."""
    flat = re.sub(r"\s+", "", text)
    if len(flat) > FOLLOW_UP_MAX:
        return False
    return bool(glossary.follow_up.search(text.strip().casefold())) or len(flat) <= SHORT_FOLLOW_UP


def parse(text: str, glossary: Glossary, previous: Sequence[str] = (), desk_name: str = "",
          follow_up: bool | None = None) -> Question:
    """Read a question once for every later stage; ``previous`` are the thread's earlier questions.

    ``follow_up`` forces reading it with (True) or without (False) the previous turn; by default
    the follow-up marks decide.
    """
    raw = (text or "").strip()
    normalized = normalize(raw)
    language = detect_language(raw)
    parts = ask_parts(normalized, glossary)
    own_ask = " ".join(parts)
    context = ""
    if previous and (looks_like_follow_up(own_ask, glossary) if follow_up is None else follow_up):
        prev = previous[-1]
        prev_norm = normalize(prev)
        context = " ".join(ask_parts(prev_norm, glossary))
    full_ask = f"{context} {own_ask}".strip()
    expansion = glossary.expand(full_ask, language)
    cases = bool(glossary.case_request.search(own_ask.casefold()))
    contact = glossary.asks_for_contact(own_ask, desk_name)
    nouns = content_nouns(full_ask)
    related = tuple(n for n in content_nouns(expansion) if n not in nouns)
    if language == "en":
        # English words never occur in the Japanese passages; the glossary's terms stand for them.
        nouns = tuple(dict.fromkeys(tuple(n for n in nouns if not n.isascii()) + related))
        related = ()
    return Question(text=raw, normalized=normalized, language=language, ask_parts=parts,
                    expansion=expansion, expected=glossary.expected_types(own_ask), wants_cases=cases,
                    wants_contact=contact, context=context, nouns=nouns, related=related,
                    phrases=noun_phrases(own_ask))
