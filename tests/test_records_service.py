"""Record service on both databases: numbering, idempotency, audit, outbox rows, events, export.

Each test runs on SQLite and on a real PostgreSQL server (skipped with a reason when PostgreSQL is
not installed).  Concurrency tests use real threads against the real database: the guarantees
(one record per submission key, distinct gap-free numbers) are the database's, so they must hold
under both engines' locking.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import make_settings
from postgres_fixture import postgres_server, postgres_url  # noqa: F401 - fixtures
from sqlalchemy import func, inspect, select

from bot.city import load_city
from bot.db import Database, utcnow
from bot.records.export import audit_csv, records_csv, records_json
from bot.records.fields import ProposalFields
from bot.records.models import IdempotencyKey, OutboxMessage, ProposalRecord, StatusChange
from bot.records.service import RecordService
from bot.records.views import NotAllowed, SourceRef, local_year


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'records.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    database = Database(url)
    yield database
    database.dispose()


@pytest.fixture
def service(db: Database, tmp_path) -> RecordService:
    settings = make_settings(tmp_path / "data")
    return RecordService(db, settings, city=load_city(settings.knowledge_dir))


def complete(**overrides) -> ProposalFields:
    data = {"org_name": "株式会社青森テック", "org_type": "corporation", "contact_name": "山田 花子",
            "email": "hanako@example.co.jp", "title": "駅前での自動運転バス実証", "summary": "青森駅前で実証したい。",
            "kind": "open", "scheme": "trial", "cost_burden": "self", "personal_info": "no",
            "third_party_ip": "no", "asks": ["field"], "schedule": "2026年10月"}
    data.update(overrides)
    return ProposalFields.from_dict(data)


def count(db: Database, model) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def test_migration_creates_every_table_from_the_base_branch(db: Database) -> None:
    names = set(inspect(db.engine).get_table_names())
    assert {"proposal_records", "record_sequences", "record_status_history", "record_idempotency",
            "record_outbox"} <= names
    with db.engine.connect() as conn:
        heads = {row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")}
    assert "0003" in heads
    Database(db.url).dispose()  # migrating again is a no-op, not an error


def test_submit_numbers_per_year_and_records_audit_and_outbox(service: RecordService, db: Database) -> None:
    first = service.save(complete(), proposer="U1", submit=True, idem_key="k1",
                         source=SourceRef("C1", "111.1"))
    second = service.save(complete(title="二件目"), proposer="U2", submit=True, idem_key="k2")
    year = local_year(utcnow())
    assert first.record.record_id == f"P-{year}-0001" and second.record.record_id == f"P-{year}-0002"
    assert first.created and first.submitted_now and first.record.status == "submitted"
    history = service.history(first.record.record_id)
    assert [(h["from_status"], h["to_status"]) for h in history] == [("", "draft"), ("draft", "submitted")]
    with db.session() as s:
        jobs = s.execute(select(OutboxMessage.kind, OutboxMessage.payload)
                         .where(OutboxMessage.record_pk == first.record.pk).order_by(OutboxMessage.id)).all()
    assert [(k, p) for k, p in jobs] == [("business_message", {"template": "submitted"}), ("desk_card", {})]


def test_same_key_twice_gives_one_record_and_no_second_post(service: RecordService, db: Database) -> None:
    a = service.save(complete(), proposer="U1", submit=True, idem_key="thread:U1:C1:1.1")
    b = service.save(complete(title="changed"), proposer="U1", submit=True, idem_key="thread:U1:C1:1.1")
    assert b.replayed and not b.created and b.record.record_id == a.record.record_id
    assert b.record.fields.title == a.record.fields.title  # the replay changed nothing
    assert count(db, ProposalRecord) == 1
    assert count(db, OutboxMessage) == 2


def test_draft_then_submit_continues_the_same_record(service: RecordService, db: Database) -> None:
    draft = service.save(ProposalFields(title="途中"), proposer="U1", submit=False, idem_key="view:V1")
    assert draft.record.status == "draft" and draft.record.record_id is None
    assert count(db, OutboxMessage) == 0  # nothing goes to Slack for a draft
    done = service.save(complete(), proposer="U1", submit=True, record_pk=draft.record.pk)
    assert done.record.pk == draft.record.pk and done.record.record_id is not None
    assert count(db, ProposalRecord) == 1


def test_only_the_proposer_continues_a_draft(service: RecordService) -> None:
    draft = service.save(ProposalFields(title="途中"), proposer="U1", submit=False)
    with pytest.raises(NotAllowed):
        service.save(complete(), proposer="U2", submit=True, record_pk=draft.record.pk)
    with pytest.raises(NotAllowed):
        service.delete(record_pk=draft.record.pk, actor="U2")


def test_concurrent_submissions_with_one_key_make_one_record(service: RecordService, db: Database) -> None:
    barrier = threading.Barrier(6)

    def submit(_: int):
        barrier.wait()
        return service.save(complete(), proposer="U1", submit=True, idem_key="double-click")

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(submit, range(6)))
    assert len({r.record.record_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert count(db, ProposalRecord) == 1 and count(db, IdempotencyKey) == 1
    assert count(db, OutboxMessage) == 2


def test_concurrent_distinct_submissions_get_distinct_consecutive_numbers(service: RecordService) -> None:
    barrier = threading.Barrier(8)

    def submit(i: int):
        barrier.wait()
        return service.save(complete(title=f"提案{i}"), proposer=f"U{i}", submit=True, idem_key=f"k{i}")

    with ThreadPoolExecutor(8) as pool:
        ids = [r.record.record_id for r in pool.map(submit, range(8))]
    year = local_year(utcnow())
    assert sorted(ids) == [f"P-{year}-{n:04d}" for n in range(1, 9)]


def test_status_change_is_audited_and_queues_card_update_and_notice(service: RecordService, db: Database) -> None:
    rid = service.save(complete(), proposer="U1", submit=True).record.record_id
    result = service.change_status(rid, "received", actor="USTAFF")
    assert result.changed and result.from_status == "submitted" and result.record.status == "received"
    again = service.change_status(rid, "received", actor="USTAFF")  # double click
    assert not again.changed
    service.change_status(rid, "declined", actor="USTAFF", note="今回は予算の都合により見送ります。")
    history = service.history(rid)
    assert [(h["to_status"], h["actor"]) for h in history[-2:]] == [("received", "USTAFF"), ("declined", "USTAFF")]
    assert history[-1]["note"] == "今回は予算の都合により見送ります。"
    with db.session() as s:
        notices = s.scalars(select(OutboxMessage.payload).where(OutboxMessage.kind == "business_message")
                            .order_by(OutboxMessage.id)).all()
        updates = s.scalar(select(func.count()).select_from(OutboxMessage)
                           .where(OutboxMessage.kind == "card_update"))
    assert notices[1:] == [{"template": "status", "to": "received", "note": None},
                           {"template": "status", "to": "declined", "note": "今回は予算の都合により見送ります。"}]
    assert updates == 1  # coalesced: one pending update renders the latest state


def test_department_name_stays_internal(service: RecordService, db: Database) -> None:
    rid = service.save(complete(), proposer="U1", submit=True).record.record_id
    result = service.change_status(rid, "department_inquiry", actor="USTAFF", note="交通政策課")
    assert result.record.assigned_department == "交通政策課"
    with db.session() as s:
        last = s.scalars(select(OutboxMessage.payload).where(OutboxMessage.kind == "business_message")
                         .order_by(OutboxMessage.id.desc())).first()
    assert last == {"template": "status", "to": "department_inquiry", "note": None}


def test_status_rules(service: RecordService, db: Database) -> None:
    draft = service.save(ProposalFields(title="x"), proposer="U1", submit=False)
    rid = service.save(complete(), proposer="U1", submit=True).record.record_id
    with pytest.raises(NotAllowed):
        service.change_status(rid, "declined", actor="USTAFF")  # a reason is required
    with pytest.raises(NotAllowed):
        service.change_status(rid, "submitted", actor="USTAFF")  # not a desk step
    before = count(db, StatusChange)
    assert service.change_status(rid, "received", actor="S", idem_key="action:1").changed
    assert not service.change_status(rid, "in_dialogue", actor="S", idem_key="action:1").changed  # replay
    assert count(db, StatusChange) == before + 1
    assert service.get(record_pk=draft.record.pk).status == "draft"


def test_listeners_hear_of_saved_and_deleted_records(service: RecordService) -> None:
    seen: list[tuple[str, object]] = []

    class Listener:
        def record_saved(self, record: dict) -> None:
            seen.append(("saved", record))

        def record_deleted(self, record_id: str) -> None:
            seen.append(("deleted", record_id))

    service.listeners.append(Listener())
    service.save(ProposalFields(title="draft only"), proposer="U1", submit=False)
    assert seen == []  # drafts are the business's own until submitted
    rec = service.save(complete(), proposer="U1", submit=True).record
    service.change_status(rec.record_id, "received", actor="S")
    service.delete(record_id=rec.record_id, actor="S", staff=True)
    assert [kind for kind, _ in seen] == ["saved", "saved", "deleted"]
    first = seen[0][1]
    for key in ("id", "status", "title", "summary", "org", "scheme", "kind", "asks", "created_at"):
        assert key in first
    assert first["id"] == rec.record_id and first["org"] == "株式会社青森テック" and first["asks"] == ["field"]
    assert seen[1][1]["status"] == "received" and seen[2][1] == rec.record_id


def test_list_counts_and_exports(service: RecordService) -> None:
    service.save(ProposalFields(title="my draft"), proposer="U9", submit=False)
    a = service.save(complete(title="=HYPERLINK(\"http://x\")"), proposer="U1", submit=True).record
    b = service.save(complete(org_type="individual", title="個人の提案"), proposer="U2", submit=True).record
    service.change_status(a.record_id, "received", actor="S")
    assert [r.record_id for r in service.list()] == [a.record_id, b.record_id]  # newest change first
    assert [r.fields.title for r in service.list(proposer="U9", include_drafts=True)] == ["my draft"]
    assert service.counts()["received"] == 1 and service.counts()["submitted"] == 1

    rows = list(csv.reader(io.StringIO(records_csv(service.list(), service.flags))))
    header = rows[0]
    assert header[0] == "受付番号" and "団体名（法人名・屋号）" in header and header[-1] == "事前確認フラグ"
    by_id = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert by_id[a.record_id]["提案の件名"].startswith("'=")  # a spreadsheet will not run it
    assert by_id[a.record_id]["ステータス"] == "受付"
    assert "individual_not_eligible" in by_id[b.record_id]["事前確認フラグ"]
    data = json.loads(records_json(service.list(), service.flags))
    assert {d["id"] for d in data} == {a.record_id, b.record_id}
    flagged = next(d for d in data if d["id"] == b.record_id)
    assert flagged["flags"][0]["id"] == "individual_not_eligible" and "個人事業主を除く" in flagged["flags"][0]["quote"]
    audit = list(csv.reader(io.StringIO(audit_csv(service.history()))))
    assert audit[0] == ["受付番号", "日時", "操作者（Slack）", "変更前", "変更後", "メモ"]
    assert [a.record_id, "S", "提出済み（受付待ち）", "受付"] == [audit[-1][0], audit[-1][2], audit[-1][3], audit[-1][4]]
