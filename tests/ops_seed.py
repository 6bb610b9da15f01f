"""Seed a database the way the Slack app does, for the operations tests (run as a script).

``python tests/ops_seed.py`` with the usual environment (``PPP_DATA_DIR``, ``DATABASE_URL``, …):
submits two proposals through the real :class:`RecordService` (numbers, audit rows, outbox jobs),
moves one through two statuses, keeps a third as a draft, and indexes them as internal precedents
through the real ``record_saved`` listener (``PrecedentSpace``).  Prints the record ids as JSON.  A separate process,
so the tests' own process never holds the stores that a restore replaces.
"""

from __future__ import annotations

import json

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


if __name__ == "__main__":
    print(json.dumps(seed()))
