"""Exports of records and their audit trail for the desk's spreadsheets (pure: CSV with Japanese headers, JSON).

Every CSV goes through ``bot.spreadsheet.to_csv``, the one guard that keeps formula-looking cells inert.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from bot.records.fields import FIELD_NAMES, display_value, field_label, status_label
from bot.records.prescreen import Flag
from bot.records.views import RecordView
from bot.spreadsheet import to_csv

RECORD_COLUMNS: tuple[str, ...] = ("id", "status", "created_at", "updated_at", "submitted_at",
                                   "proposer_user_id", "permalink", "assigned_department", *FIELD_NAMES,
                                   "flags")
AUDIT_COLUMNS: tuple[str, ...] = ("record_id", "at", "actor", "from_status", "to_status", "note")


def record_row(record: RecordView, flags: Iterable[Flag] = ()) -> dict[str, str]:
    """One export row with Japanese labels for choices (what the desk's spreadsheets read)."""
    data = record.to_dict()
    row = {"id": record.display_id, "status": status_label(record.status)}
    for name in ("created_at", "updated_at", "submitted_at", "proposer_user_id", "permalink",
                 "assigned_department"):
        row[name] = data.get(name) or ""
    for name in FIELD_NAMES:
        value = getattr(record.fields, name)
        shown = value if name == "qa_excerpt" else display_value(name, value)
        row[name] = "" if shown == "—" else shown
    row["flags"] = " / ".join(f.id for f in flags)
    return row


def records_csv(records: Iterable[RecordView], flags_of: Callable[[RecordView], list[Flag]]) -> str:
    headers = {"id": "受付番号", "status": "ステータス", "created_at": "作成日時", "updated_at": "更新日時",
               "submitted_at": "提出日時", "proposer_user_id": "提案者（Slack）", "permalink": "相談スレッド",
               "assigned_department": "照会先の担当課", "flags": "事前確認フラグ"}
    headers.update({name: field_label(name) for name in FIELD_NAMES})
    rows = ([row[c] for c in RECORD_COLUMNS] for row in (record_row(r, flags_of(r)) for r in records))
    return to_csv([[headers[c] for c in RECORD_COLUMNS], *rows])


def records_json(records: Iterable[RecordView], flags_of: Callable[[RecordView], list[Flag]]) -> str:
    out = []
    for record in records:
        data = record.to_dict()
        data["flags"] = [f.as_dict() for f in flags_of(record)]
        out.append(data)
    return json.dumps(out, ensure_ascii=False, indent=2)


def audit_csv(rows: Iterable[dict]) -> str:
    headers = {"record_id": "受付番号", "at": "日時", "actor": "操作者（Slack）", "from_status": "変更前",
               "to_status": "変更後", "note": "メモ"}
    out = [[headers[c] for c in AUDIT_COLUMNS]]
    for row in rows:
        labelled = dict(row)
        for key in ("from_status", "to_status"):
            labelled[key] = status_label(row[key]) if row.get(key) else ""
        out.append([labelled.get(c, "") for c in AUDIT_COLUMNS])
    return to_csv(out)


def audit_json(rows: Iterable[dict]) -> str:
    return json.dumps(list(rows), ensure_ascii=False, indent=2)
