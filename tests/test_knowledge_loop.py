"""The knowledge loop: masked question log, gaps by meaning, desk figures, approved answers."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bot.db import Database
from bot.knowledge_loop.desk_answers import DeskAnswerError, DeskAnswers, generalize
from bot.knowledge_loop.gaps import closed_by, cluster, group
from bot.knowledge_loop.log import QuestionLog
from bot.knowledge_loop.mask import mask_personal
from bot.knowledge_loop.models import LoopAudit
from bot.knowledge_loop.report import figures, to_csv
from tests.conftest import guideline_kb


def test_personal_data_is_masked_and_the_question_kept() -> None:
    text = ("株式会社青森プリントの山田と申します。電話は090-1234-5678、メールは yamada@example.co.jp です。"
            "<@U12345> 田中様にも伺いました。個人でも提案できますか？")
    masked = mask_personal(text)
    for secret in ("山田", "090-1234-5678", "yamada@example.co.jp", "U12345", "田中"):
        assert secret not in masked
    assert "個人でも提案できますか？" in masked
    assert mask_personal("提案は24時間365日受け付けています。2025年4月に設置予定です。") == \
        "提案は24時間365日受け付けています。2025年4月に設置予定です。"


@pytest.fixture
def db(tmp_path) -> Database:
    return Database(f"sqlite:///{tmp_path / 'loop.db'}")


def test_the_log_stores_masked_text_and_forgets_after_the_retention_period(db) -> None:
    log = QuestionLog(db, retention_days=180)
    now = datetime.now(UTC)
    log.record("山田と申します。090-1111-2222 に電話ください", outcome="abstained", turn_ref="t1", at=now)
    log.record("古い質問", outcome="answered", turn_ref="t2", at=now - timedelta(days=200))
    log.feedback("t1", -1)
    log.handed_off("t1")
    misses = log.misses()
    assert [m.turn_ref for m in misses] == ["t1"]
    assert "山田" not in misses[0].question and "090" not in misses[0].question
    assert misses[0].feedback == -1 and misses[0].handed_off
    assert log.purge(now) == 1
    assert log.purge(now) == 0
    with pytest.raises(ValueError, match="unknown outcome"):
        log.record("x", outcome="maybe")


def test_paraphrases_group_together_and_other_questions_apart(engine) -> None:
    questions = ["事前相談に料金はかかりますか？", "事前相談って有料ですか？", "相談料は必要ですか？",
                 "実証実験の期間は最長でどれくらいですか？", "実験は何か月まで続けられますか？",
                 "市役所の駐車場は使えますか？"]
    vectors = np.vstack(engine._embed(questions))
    labels = cluster(vectors)
    assert labels[0] == labels[1] == labels[2]
    assert labels[3] == labels[4]
    assert len({labels[0], labels[3], labels[5]}) == 3


def test_figures_count_questions_feedback_handoffs_drafts_and_first_staff_action(db, engine) -> None:
    from bot.records.models import ProposalRecord, StatusChange

    log = QuestionLog(db)
    now = datetime.now(UTC)
    for i, (q, outcome) in enumerate([("相談料はかかりますか？", "abstained"), ("相談は有料ですか？", "abstained"),
                                      ("個人でも提案できますか？", "answered"), ("他社の提案を見せて", "refused")]):
        log.record(q, outcome=outcome, turn_ref=f"r{i}", vector=engine._embed([q])[0], at=now - timedelta(hours=1))
    log.feedback("r2", 1)
    log.handed_off("r0")
    with db.session() as s:
        rec = ProposalRecord(record_id="P-2026-0001", year=2026, seq=1, status="received", proposer_user_id="U1",
                             submitted_at=now - timedelta(hours=10))
        s.add(rec)
        s.flush()
        s.add(StatusChange(record_pk=rec.pk, at=now - timedelta(hours=10), actor="U1", from_status="draft",
                           to_status="submitted"))
        s.add(StatusChange(record_pk=rec.pk, at=now - timedelta(hours=6), actor="S1", from_status="submitted",
                           to_status="received"))
    f = figures(db, now - timedelta(days=7), now + timedelta(minutes=1))
    assert (f.questions, f.answered, f.abstained, f.refused) == (4, 1, 2, 1)
    assert (f.thumbs_up, f.thumbs_down, f.handoffs) == (1, 0, 1)
    assert f.drafts_submitted == 1 and f.by_status == {"received": 1}
    assert f.median_hours_to_first_action == 4.0
    assert f.top_gaps and f.top_gaps[0]["count"] == 2
    csv_text = to_csv(f)
    assert csv_text.splitlines()[0] == "項目,値" and "質問数,4" in csv_text and "回答率,25.0%" in csv_text


def test_a_business_question_is_generalized_without_person_or_company(engine) -> None:
    general = generalize("弊社は株式会社青森プリントです。担当の山田と申します。事前相談って相談料はかかりますか？",
                         engine.glossary)
    assert general == "事前相談って相談料はかかりますか?"


@pytest.fixture(scope="module")
def small_kb(tmp_path_factory):
    """The guideline alone, in a store of its own: approvals here never touch the shared store."""
    return guideline_kb(tmp_path_factory.mktemp("loopkb"))


def test_an_approved_answer_is_cited_for_a_paraphrase_then_withdrawn(small_kb, tmp_path) -> None:
    from bot.engine.engine import Engine
    from ingest.pipeline import ingest

    db = Database(f"sqlite:///{tmp_path / 'loop.db'}")
    engine = Engine(small_kb)
    assert engine.answer("相談するのにお金はかかりますか？").abstained
    answers = DeskAnswers(db, small_kb, engine.index.store)
    published = answers.approve("事前相談って相談料はかかりますか?", "事前相談は無料です。お気軽にご相談ください。",
                                "U_STAFF")
    engine.reload()
    answer = engine.answer("相談するのにお金はかかりますか？")
    assert not answer.abstained and "無料" in answer.text.split("\n")[0]
    today = datetime.now(UTC).date().isoformat()
    assert answer.sources[0].doc_type == "desk_answer"
    assert answer.sources[0].title == f"公民連携デスク回答（{today} 承認）"
    # A full `ingest --prune` of the knowledge folder keeps it: it came from the database.
    ingest(small_kb, prune=True, progress=False)
    assert published.doc_id in engine.index.store.documents()
    answers.withdraw(published.answer_id, "U_STAFF")
    engine.reload()
    assert engine.answer("相談するのにお金はかかりますか？").abstained
    with pytest.raises(DeskAnswerError):
        answers.withdraw(published.answer_id, "U_STAFF")
    with db.session() as s:
        assert [(a.action, a.target) for a in s.query(LoopAudit).order_by(LoopAudit.id)] == \
            [("approve", published.answer_id), ("withdraw", published.answer_id)]


def test_sync_republishes_approved_answers_after_a_rebuild(small_kb, tmp_path) -> None:
    from ingest.pipeline import remove_document

    db = Database(f"sqlite:///{tmp_path / 'loop.db'}")
    answers = DeskAnswers(db, small_kb)
    published = answers.approve("提案書の様式はありますか？", "決まった様式はありません。", "U_STAFF")
    remove_document(small_kb, answers.store, published.doc_id)  # as after a rebuild of the store
    assert answers.sync() == (1, 0)
    assert published.doc_id in answers.store.documents()
    assert answers.sync() == (0, 0)
    answers.withdraw(published.answer_id, "U_STAFF")
    assert published.doc_id not in answers.store.documents()


def test_only_the_approved_question_and_answer_enter_the_public_store(small_kb, tmp_path) -> None:
    """The wall: a record's fields and staff notes never reach the public knowledge."""
    from bot.records.models import ProposalRecord, StatusChange

    db = Database(f"sqlite:///{tmp_path / 'loop.db'}")
    with db.session() as s:
        rec = ProposalRecord(proposer_user_id="U1", status="submitted", summary="SECRET-DRAFT-7731",
                             record_id="P-2026-0009", year=2026, seq=9)
        s.add(rec)
        s.flush()
        s.add(StatusChange(record_pk=rec.pk, actor="S1", from_status="submitted", to_status="declined",
                           note="STAFF-NOTE-4410"))
    answers = DeskAnswers(db, small_kb)
    answers.approve("協定の締結に費用はかかりますか？", "協定の締結に費用はかかりません。", "U_STAFF")
    texts = " ".join(text for _id, text, _meta in answers.store.read_chunks())
    assert "協定の締結に費用はかかりません" in texts
    assert "SECRET-DRAFT-7731" not in texts and "STAFF-NOTE-4410" not in texts


def test_an_empty_answer_is_refused_with_a_reason(small_kb, tmp_path) -> None:
    answers = DeskAnswers(Database(f"sqlite:///{tmp_path / 'loop.db'}"), small_kb)
    with pytest.raises(DeskAnswerError, match="両方"):
        answers.approve("質問", "  ", "U_STAFF")


def test_gap_groups_are_largest_first(db, engine) -> None:
    log = QuestionLog(db)
    for q in ["相談料はかかりますか？", "相談は有料ですか？", "駐車場はありますか？"]:
        log.record(q, outcome="abstained", vector=engine._embed([q])[0])
    gaps = group(log.misses())
    assert gaps[0].count == 2 and gaps[-1].count == 1


def test_an_approved_answer_closes_the_gaps_it_answers_and_a_withdrawal_reopens_them(db, engine) -> None:
    log = QuestionLog(db)
    ids = {q: log.record(q, outcome="abstained", vector=engine._embed([q])[0], turn_ref=f"t{i}")
           for i, q in enumerate(["事前相談に料金はかかりますか？", "事前相談って有料ですか？", "駐車場はありますか？",
                                  "実証実験の期間は最長でどれくらいですか？"])}
    approved = engine._embed(["事前相談に料金はかかりますか？"])[0]
    # Said otherwise, the same question closes; the parking question and the trial length do not.
    closed = closed_by(log.misses(), approved)
    assert closed == {ids["事前相談に料金はかかりますか？"], ids["事前相談って有料ですか？"]}
    # The hand-off's own question closes whatever the approved wording became.
    assert closed_by(log.misses(), None, turn_ref="t3") == {ids["実証実験の期間は最長でどれくらいですか？"]}
    assert log.close(closed, "DA-0001") == 2
    assert [g.example for g in group(log.misses())] == ["実証実験の期間は最長でどれくらいですか？", "駐車場はありますか？"]
    # The monthly report still counts them as missed in their period, and says they are answered now.
    gaps = figures(db, datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(days=1)).top_gaps
    assert {k: gaps[0][k] for k in ("count", "addressed")} == {"count": 2, "addressed": 2}
    assert log.reopen("DA-0001") == 2 and group(log.misses())[0].count == 2


def test_ppp_desk_ingest_into_a_rebuilt_store_brings_the_approved_answers_back(small_kb, tmp_path, capsys) -> None:
    """An operator who rebuilds the stores in a new data folder with `ppp-desk ingest` loses no desk answer."""
    from bot.cli import build_parser
    from ingest.store import ChunkStore

    settings = small_kb.model_copy(update={"data_dir": tmp_path / "rebuilt",
                                           "database_url": f"sqlite:///{tmp_path / 'desk.db'}"})
    args = build_parser().parse_args(["ingest", "-q"])
    assert args.handler(args, settings) == 0
    assert "approved desk answers" not in capsys.readouterr().out  # no database yet: nothing to say
    db = Database(settings.db_url)
    published = DeskAnswers(db, settings).approve("提案書の様式はありますか？", "決まった様式はありません。", "U_STAFF")
    capsys.readouterr()
    fresh = settings.model_copy(update={"data_dir": tmp_path / "new-data"})  # new stores, same database
    assert args.handler(args, fresh) == 0
    assert "approved desk answers: 1 in the knowledge base (1 re-published, 0 removed)" in capsys.readouterr().out
    assert published.doc_id in ChunkStore(fresh).documents()


SNOW = [["除雪ボランティア制度のご案内", "この資料は市の除雪ボランティア制度を説明します。"],
        ["登録の受付", "除雪ボランティアの登録は、市民協働推進課で毎年十月から受け付けています。"]]


def _add_from_slack(settings, db, store, file_id: str, title: str):
    """What 「ナレッジに追加」 does once the file is downloaded: kept, loaded, stored, audited."""
    from _docs import text_pdf

    from bot.knowledge_loop import documents

    path = documents.stored_path(settings, file_id, f"{file_id}.pdf")
    path.parent.mkdir(parents=True)
    text_pdf(path, SNOW, title=title)
    return documents.add(settings, db, store, documents.load_stored(settings, path, file_id, path.stem), "U_STAFF")


def test_documents_added_from_slack_come_back_after_ingest_into_a_new_data_dir(small_kb, tmp_path, capsys) -> None:
    """Kept files and the audit bring the added documents back; a removed one stays out, even from an old copy."""
    from bot.cli import build_parser
    from bot.knowledge_loop import documents
    from ingest.store import ChunkStore

    settings = small_kb.model_copy(update={"data_dir": tmp_path / "data",
                                           "database_url": f"sqlite:///{tmp_path / 'desk.db'}"})
    shutil.copytree(small_kb.data_dir, settings.data_dir)
    db = Database(settings.db_url)
    store = ChunkStore(settings)
    kept = _add_from_slack(settings, db, store, "F0KEEP001", "除雪ボランティア制度の案内")
    gone = _add_from_slack(settings, db, store, "F0GONE001", "古い案内")
    assert {kept.doc_id, gone.doc_id} <= set(store.documents())
    assert [d.doc_id for d in documents.added(settings, db)] == [kept.doc_id, gone.doc_id]
    old_copy = tmp_path / "old-data"  # the data dir as it was before the removal (store and files)
    shutil.copytree(settings.data_dir, old_copy)
    assert documents.remove(settings, db, store, gone.doc_id, "U_STAFF") is not None
    assert not (documents.files_dir(settings) / "F0GONE001").exists()
    assert [d.doc_id for d in documents.added(settings, db)] == [kept.doc_id]
    DeskAnswers(db, settings, store).sync()  # the desk answers' sync leaves Slack documents alone
    assert [d.doc_id for d in documents.in_store(store)] == [kept.doc_id]

    # A new data dir holding only a copy of slack_files, taken before the removal: the kept one comes back.
    fresh = settings.model_copy(update={"data_dir": tmp_path / "new-data"})
    shutil.copytree(old_copy / "slack_files", documents.files_dir(fresh))
    args = build_parser().parse_args(["ingest", "-q"])
    assert args.handler(args, fresh) == 0
    out = capsys.readouterr().out
    assert "documents added from Slack: 1 in the knowledge base (1 re-published, 0 removed)" in out, out
    docs = ChunkStore(fresh).documents()
    assert gone.doc_id not in docs
    back = docs[kept.doc_id]
    assert (back.title, back.doc_type, back.file_hash, back.source_path) == (
        kept.title, kept.doc_type, kept.file_hash, kept.source_path)
    assert len(back.chunk_ids) == len(kept.chunk_ids)

    # The old data dir still has the removed document in its store: ingest takes it out.
    old = settings.model_copy(update={"data_dir": old_copy})
    assert args.handler(args, old) == 0
    assert "documents added from Slack: 1 in the knowledge base (0 re-published, 1 removed)" in capsys.readouterr().out
    assert [d.doc_id for d in documents.in_store(ChunkStore(old))] == [kept.doc_id]

    # Without the kept file the operator is told which document could not come back.
    bare = settings.model_copy(update={"data_dir": tmp_path / "bare-data"})
    assert args.handler(args, bare) == 0
    assert "0 in the knowledge base (0 re-published, 0 removed); ! 1 without their file in slack_files/ (F0KEEP001)" \
        in capsys.readouterr().out
