"""The city's matching vocabulary (``knowledge/glossary.yaml``), loaded once into compiled form.

The engine keeps no word lists of its own: English → Japanese terms, everyday → document terms,
the marks of a question sentence or a follow-up, and the expected-answer types all come from this
file, so another city or another wording edits data, not code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ingest.normalize import compact, normalize_chars

GLOSSARY_FILE = "glossary.yaml"


class GlossaryError(ValueError):
    """glossary.yaml is missing a part or holds a pattern that does not compile."""


@dataclass(frozen=True)
class AnswerType:
    """A kind of answer (a date, an amount…): the question words that expect it, what shows it."""

    name: str
    label_ja: str
    label_en: str
    ask: re.Pattern[str]
    answer: re.Pattern[str]

    def label(self, language: str) -> str:
        return self.label_en if language == "en" else self.label_ja


@dataclass(frozen=True)
class Glossary:
    en_ja: dict[str, str] = field(default_factory=dict)
    everyday: dict[str, str] = field(default_factory=dict)
    question: re.Pattern[str] = re.compile(r"[?？]")
    follow_up: re.Pattern[str] = re.compile(r"^$")
    answer_types: tuple[AnswerType, ...] = ()
    case_request: re.Pattern[str] = re.compile(r"^$")
    contact_topic: re.Pattern[str] = re.compile(r"^$")
    contact_ask: re.Pattern[str] = re.compile(r"^$")
    categories: dict[str, str] = field(default_factory=dict)
    clause_break: re.Pattern[str] = re.compile(r"^\b$")

    def expand(self, text: str, language: str) -> str:
        """Document-side terms for the words of ``text`` (empty when none apply)."""
        if language == "en":
            low = normalize_chars(text).casefold()
            terms = [ja for en, ja in self.en_ja.items() if re.search(r"\b" + re.escape(en), low)]
        else:
            flat = compact(text)
            terms = [doc for word, doc in self.everyday.items() if compact(word) in flat]
        return " ".join(dict.fromkeys(" ".join(terms).split()))

    def asks_for_contact(self, ask: str, desk_name: str = "") -> bool:
        """The ask names the desk and asks how to reach it."""
        low = normalize_chars(ask).casefold()
        names_desk = bool(self.contact_topic.search(low)) or bool(desk_name and desk_name in low)
        return names_desk and bool(self.contact_ask.search(low))

    def expected_types(self, ask: str) -> tuple[AnswerType, ...]:
        """The kinds of answer the ask's question words expect."""
        low = normalize_chars(ask).casefold()
        return tuple(t for t in self.answer_types if t.ask.search(low))


def _union(patterns: list[str], where: str) -> re.Pattern[str]:
    try:
        return re.compile("|".join(f"(?:{p})" for p in patterns), re.I) if patterns else re.compile(r"^\b$")
    except re.error as exc:
        raise GlossaryError(f"{GLOSSARY_FILE}: {where}: pattern does not compile ({exc})") from exc


def load_glossary(knowledge_dir: Path) -> Glossary:
    """The glossary of ``knowledge_dir`` (an empty one when the city has none yet)."""
    path = knowledge_dir / GLOSSARY_FILE
    if not path.exists():
        return Glossary()
    try:
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise GlossaryError(f"{path}: cannot be read as YAML ({exc.__class__.__name__})") from exc
    types = []
    for name, spec in (data.get("answer_types") or {}).items():
        label = spec.get("label") or {}
        types.append(AnswerType(name, label.get("ja", name), label.get("en", name),
                                _union(spec.get("ask") or [], f"answer_types.{name}.ask"),
                                _union(spec.get("answer") or [], f"answer_types.{name}.answer")))
    return Glossary(
        en_ja={str(k).casefold(): str(v) for k, v in (data.get("en_ja") or {}).items()},
        everyday={str(k): str(v) for k, v in (data.get("everyday") or {}).items()},
        question=_union(data.get("question_markers") or [], "question_markers"),
        follow_up=_union(data.get("follow_up_markers") or [], "follow_up_markers"),
        answer_types=tuple(types),
        case_request=_union(data.get("case_request") or [], "case_request"),
        contact_topic=_union((data.get("contact_request") or {}).get("topic") or [], "contact_request.topic"),
        contact_ask=_union((data.get("contact_request") or {}).get("ask") or [], "contact_request.ask"),
        categories={str(k): str(v) for k, v in (data.get("categories") or {}).items()},
        clause_break=_union(data.get("clause_breaks") or [], "clause_breaks"),
    )
