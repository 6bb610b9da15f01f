"""Seed a database the way the Slack app does, for the operations tests (run as a script).

``python tests/ops_seed.py`` with the usual environment (``PPP_DATA_DIR``, ``DATABASE_URL``, …):
submits two proposals through the real :class:`RecordService` (numbers, audit rows, outbox jobs),
moves one through two statuses, keeps a third as a draft, and indexes them as internal precedents
through the real ``record_saved`` listener (``PrecedentSpace``).  Prints the record ids as JSON.
``python tests/ops_seed.py documents`` instead adds two PDFs to the knowledge the way 「ナレッジに
追加」 does (``bot.knowledge_loop.documents``: kept file, store, audit) and removes the second.  A separate process,
so the tests' own process never holds the stores that a restore replaces.
"""

from __future__ import annotations

import json
import sys

from bot.city import load_city
from bot.config import get_settings
from bot.ops.migrate import open_current
from bot.precedents.space import PrecedentSpace
from bot.records.fields import ProposalFields
from bot.records.service import RecordService

BASE = {"org_type": "corporation", "contact_name": "山田 花子", "email": "hanako@example.co.jp",
        "kind": "open", "scheme": "trial", "cost_burden": "self", "personal_info": "no",
        "third_party_ip": "no", "asks": ["field"], "schedule": "来年度"}


def seed() -> dict[str, str]:
    settings = get_settings()
    space = PrecedentSpace(settings)
    svc = RecordService(open_current(settings), settings, city=load_city(settings.knowledge_dir), listeners=[space])
    a = svc.save(ProposalFields.from_dict({**BASE, "org_name": "株式会社青森テック", "title": "雪道の自動運転バス実証",
                                           "summary": "冬季の駅前で自動運転バスを走らせる実証実験"}),
                 proposer="U1", submit=True).record.record_id
    b = svc.save(ProposalFields.from_dict({**BASE, "org_name": "ねぶた工房合同会社", "title": "ねぶた端材のアップサイクル",
                                           "summary": "祭りの後に残る和紙と木材を雑貨にする"}),
                 proposer="U2", submit=True).record.record_id
    svc.save(ProposalFields(title="非公開の下書き"), proposer="U3", submit=False)
    svc.change_status(a, "received", actor="USTAFF")
    svc.change_status(a, "in_dialogue", actor="USTAFF", note="担当課と調整")
    svc.db.dispose()
    return {"a": a, "b": b}


def seed_documents() -> dict[str, str]:
    from _docs import text_pdf

    from bot.knowledge_loop import documents
    from ingest.store import ChunkStore

    settings = get_settings()
    db, store = open_current(settings), ChunkStore(settings)
    ids = {}
    for key, file_id, title in (("kept", "F0KEEP001", "除雪ボランティア制度の案内"), ("gone", "F0GONE001", "古い案内")):
        path = documents.stored_path(settings, file_id, f"{file_id}.pdf")
        path.parent.mkdir(parents=True, exist_ok=True)
        text_pdf(path, [[title, "除雪ボランティアの登録は、市民協働推進課で毎年十月から受け付けています。"]], title=title)
        loaded = documents.load_stored(settings, path, file_id, path.stem)
        ids[key] = documents.add(settings, db, store, loaded, "USTAFF").doc_id
    documents.remove(settings, db, store, ids["gone"], "USTAFF")
    db.dispose()
    return ids


if __name__ == "__main__":
    print(json.dumps(seed_documents() if sys.argv[1:] == ["documents"] else seed()))
