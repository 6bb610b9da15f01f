"""Staff-approved answers: the only door from Slack into the public knowledge.

An approved answer is kept in the database (``desk_answers``, so ``backup`` keeps it) and
published into the public store as a document of type ``desk_answer``, cited as
「公民連携デスク回答（2026-12-01 承認）」 with the generalized question as its section.  Withdrawing
removes it from the store; ``sync`` puts the store back in line with the database after a rebuild.
Only the question and the staff's answer go in — never a record, a draft or a staff note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from bot.config import Settings
from bot.db import Database, utcnow
from bot.engine.evidence import DESK_ANSWER_TYPE
from bot.knowledge_loop.documents import FILES_PREFIX
from bot.knowledge_loop.mask import mask_personal
from bot.knowledge_loop.models import DeskAnswer, LoopAudit
from ingest.loaders import LoadedDocument
from ingest.pipeline import PUBLISHED_PREFIX, put_document, remove_document
from ingest.store import ChunkStore

DOC_TYPE = DESK_ANSWER_TYPE
MAX_QUESTION = 500
MAX_ANSWER = 4000
ORG = "〔事業者〕"


class DeskAnswerError(ValueError):
    """An approval or withdrawal that cannot be done, with the reason for the staff member."""


def generalize(question: str, glossary=None) -> str:
    """A business's question as a general one: its question sentences, no person, no company.

    Suggested by rules (always editable in the modal): the self-introduction is dropped, personal
    data masked, organization names replaced.
    """
    from bot.records.extract import find_organization

    text = question.strip()
    if glossary is not None:
        from bot.engine.question import ask_parts
        from ingest.normalize import normalize

        text = "".join(ask_parts(normalize(text), glossary)) or text
    text = mask_personal(text)
    for _ in range(3):  # several organizations may be named
        name, _kind = find_organization(text)
        if not name:
            break
        text = text.replace(name, ORG)
    return re.sub(r"\s+", " ", text).strip()[:MAX_QUESTION]


def doc_id(answer_id: str) -> str:
    return f"{PUBLISHED_PREFIX}{answer_id}"


def title(approved_at: datetime) -> str:
    return f"公民連携デスク回答（{approved_at.date().isoformat()} 承認）"


def as_document(row: DeskAnswer) -> LoadedDocument:
    """The approved answer as a document the ingest chunker takes (Markdown, question as heading)."""
    heading = " ".join(row.question.split())
    text = f"# {title(row.approved_at)}\n\n## {heading}\n\n{row.answer.strip()}\n"
    meta = {"title": title(row.approved_at), "doc_type": DOC_TYPE, "published": row.approved_at.date().isoformat(),
            "approver": row.approver, "answer_id": row.answer_id}
    return LoadedDocument(doc_id=doc_id(row.answer_id), path=Path(f"{row.answer_id}.md"), fmt="markdown",
                          text=text, metadata=meta)


@dataclass
class Published:
    answer_id: str
    doc_id: str
    title: str


class DeskAnswers:
    def __init__(self, db: Database, settings: Settings, store: ChunkStore | None = None) -> None:
        self.db = db
        self.settings = settings
        self._store = store

    @property
    def store(self) -> ChunkStore:
        if self._store is None:
            self._store = ChunkStore(self.settings)
        return self._store

    def approve(self, question: str, answer: str, approver: str, *, turn_ref: str | None = None) -> Published:
        """Store the answer, audit it and publish it (the caller has checked that ``approver`` is staff)."""
        question, answer = question.strip(), answer.strip()
        if not question or not answer:
            raise DeskAnswerError("質問と回答の両方を入力してください。")
        if len(answer) > MAX_ANSWER:
            raise DeskAnswerError(f"回答が長すぎます（{MAX_ANSWER}文字まで）。")
        with self.db.session() as s:
            n = (s.scalar(select(func.count(DeskAnswer.id))) or 0) + 1
            row = DeskAnswer(answer_id=f"DA-{n:04d}", question=mask_personal(question)[:MAX_QUESTION],
                             answer=answer, approver=approver, approved_at=utcnow(), source_turn_ref=turn_ref)
            s.add(row)
            s.add(LoopAudit(actor=approver, action="approve", target=row.answer_id, note=row.question[:200]))
        put_document(self.settings, self.store, as_document(row), f"db:desk_answers/{row.answer_id}")
        return Published(row.answer_id, doc_id(row.answer_id), title(row.approved_at))

    def withdraw(self, answer_id: str, actor: str) -> None:
        with self.db.session() as s:
            row = s.scalar(select(DeskAnswer).where(DeskAnswer.answer_id == answer_id))
            if row is None:
                raise DeskAnswerError(f"{answer_id} という公開回答はありません。")
            if row.withdrawn_at is not None:
                raise DeskAnswerError(f"{answer_id} はすでに取り下げられています。")
            row.withdrawn_at, row.withdrawn_by = utcnow(), actor
            s.add(LoopAudit(actor=actor, action="withdraw", target=answer_id))
        remove_document(self.settings, self.store, doc_id(answer_id))

    def active(self) -> list[DeskAnswer]:
        with self.db.session() as s:
            return list(s.scalars(select(DeskAnswer).where(DeskAnswer.withdrawn_at.is_(None))
                                  .order_by(DeskAnswer.id)))

    def sync(self) -> tuple[int, int]:
        """Publish approved answers the store lacks and remove withdrawn ones (after a rebuild or restore).

        Documents added from Slack share the prefix and are left alone (``documents.sync`` keeps them).

        Returns (published, removed).
        """
        stored = {d for d in self.store.documents()
                  if d.startswith(PUBLISHED_PREFIX) and not d.startswith(FILES_PREFIX)}
        active = {doc_id(r.answer_id): r for r in self.active()}
        published = 0
        for did, row in active.items():
            if did not in stored:
                put_document(self.settings, self.store, as_document(row), f"db:desk_answers/{row.answer_id}")
                published += 1
        removed = sum(1 for did in stored - set(active) if remove_document(self.settings, self.store, did))
        return published, removed

