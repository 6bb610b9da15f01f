"""The ``Answer``: the one object every surface renders.

The CLI prints it, ``--json`` dumps it, Slack turns it into blocks.  Surfaces never reach into the
store themselves; they receive an Answer and render it.  ``to_json`` is a stable contract that
other tools depend on — add fields, never rename or remove them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

CATEGORIES = ("eligibility", "confidentiality", "required_info", "cost", "process", "scheme", "contact",
              "precedent", "agreement", "out_of_scope")


@dataclass(frozen=True)
class Source:
    """One cited passage: where it is (title › section, page) and what it says."""

    title: str
    doc_type: str
    section: str
    page: int | None
    text: str
    score: float
    doc_id: str = ""
    chunk_id: str = ""

    def label(self) -> str:
        """Human citation: ``Title › Section, p. N``."""
        from ingest.normalize import normalize_chars

        title = normalize_chars(self.title)
        # A case sheet's section often repeats its title; say it once.
        section = " › ".join(p for p in self.section.split(" > ") if p and p != title)
        parts = self.title + (f" › {section}" if section else "")
        return parts + (f", p. {self.page}" if self.page else "")


@dataclass
class Answer:
    question: str
    text: str
    category: str
    abstained: bool
    sources: list[Source] = field(default_factory=list)
    latency_ms: float = 0.0
    language: str = "ja"  # "ja" or "en": the language the answer is written in
    notice: str = ""  # the short disclaimer shown under every answer
    lead: str = ""  # the one-line finding, for surfaces that show it separately
    mode: str = "extractive"  # "extractive" | "llm" | "abstain" | "refusal"

    def to_json(self) -> dict:
        """The stable ``ppp-desk ask --json`` object."""
        return {
            "question": self.question,
            "answer": self.text + (f"\n\n{self.notice}" if self.notice else ""),
            "category": self.category,
            "abstained": self.abstained,
            "sources": [
                {"title": s.title, "doc_type": s.doc_type, "section": s.section, "page": s.page,
                 "text": s.text, "score": round(float(s.score), 4)}
                for s in self.sources
            ],
            "latency_ms": round(self.latency_ms, 1),
        }

    def as_dict(self) -> dict:
        return asdict(self)
