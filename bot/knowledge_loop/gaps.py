"""Knowledge gaps: the questions the bot missed, grouped by meaning.

Leader clustering over the e5 vectors logged with each question: a question joins the first group
whose leader is at least ``threshold`` similar, else it leads a new group.  Simple, deterministic
and linear in the number of questions times groups — 10,000 questions group in seconds on two
cores (``bench/knowledge_loop``).  Groups are shown newest first with their counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from bot.engine.evidence import SAME_QUESTION
from bot.knowledge_loop.log import unpack_vector
from bot.knowledge_loop.models import QuestionLogEntry

# multilingual-e5-small query vectors: paraphrases of one question measured 0.91–0.96 here,
# distinct questions of the same desk topics up to 0.90 (tests/test_knowledge_loop.py's set).
# The engine cites an approved answer for the same questions, so a gap is grouped and closed alike.
THRESHOLD = SAME_QUESTION
# The newest missed questions grouped (App Home, the report's top gaps) and closed by an approval.
GAP_SAMPLE = 2000


@dataclass
class Gap:
    """A group of missed questions that mean the same thing."""

    example: str  # the newest question of the group (masked)
    count: int
    newest: datetime
    ids: list[int] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    addressed: int = 0  # of ``count``, how many an approved desk answer now covers


def cluster(vectors: np.ndarray, threshold: float = THRESHOLD) -> list[int]:
    """Group index of each row of ``vectors`` (rows in priority order: the first of a group leads it)."""
    if not len(vectors):
        return []
    unit = _unit_rows(vectors)
    leaders = np.zeros((0, unit.shape[1]), dtype=np.float32)
    labels = []
    for row in unit:
        if len(leaders):
            sims = leaders @ row
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                labels.append(best)
                continue
        leaders = np.vstack([leaders, row])
        labels.append(len(leaders) - 1)
    return labels


def group(entries: list[QuestionLogEntry], threshold: float = THRESHOLD, limit: int | None = 20) -> list[Gap]:
    """Missed questions (newest first) into groups, largest and newest first; no vector, own group."""
    entries = sorted(entries, key=lambda e: e.asked_at, reverse=True)
    with_vec = [e for e in entries if e.vector is not None]
    gaps: dict[int, Gap] = {}
    if with_vec:
        labels = cluster(np.vstack([unpack_vector(e.vector) for e in with_vec]), threshold)
        for entry, label in zip(with_vec, labels, strict=True):
            gap = gaps.setdefault(label, Gap(entry.question, 0, entry.asked_at))
            gap.count += 1
            gap.ids.append(entry.id)
            gap.questions.append(entry.question)
            gap.addressed += entry.addressed_by is not None
    out = list(gaps.values()) + [Gap(e.question, 1, e.asked_at, [e.id], [e.question], int(e.addressed_by is not None))
                                 for e in entries if e.vector is None]
    out.sort(key=lambda g: (-g.count, -g.newest.timestamp()))
    return out[:limit]


def closed_by(misses: list[QuestionLogEntry], question_vector=None, *, entry_id: int | None = None,
              turn_ref: str | None = None, threshold: float = THRESHOLD) -> set[int]:
    """The missed questions an approved answer closes (ids).

    Its own question (``turn_ref``, from a hand-off thread), the App Home group staff answered from
    (the group of ``entry_id``, grouped as App Home shows it), and any other missed question that
    means the same as the approved question — the same test the engine uses to cite the answer, so
    what leaves the gap list is what the bot now answers.
    """
    ids = {e.id for e in misses if turn_ref is not None and e.turn_ref == turn_ref}
    if entry_id is not None:
        ids |= next((set(g.ids) for g in group(misses, threshold, limit=None) if entry_id in g.ids), {entry_id})
    with_vec = [e for e in misses if e.vector is not None]
    if question_vector is not None and with_vec:
        rows = _unit_rows(np.vstack([unpack_vector(e.vector) for e in with_vec]))
        target = _unit_rows(np.asarray(question_vector, dtype=np.float32)[None, :])[0]
        ids |= {e.id for e, sim in zip(with_vec, rows @ target, strict=True) if sim >= threshold}
    return ids


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (a zero row stays zero), so dot products are cosines."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)
