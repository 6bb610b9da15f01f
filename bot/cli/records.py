"""``ppp-desk records list|show|export|delete`` — the desk's records outside Slack.

For the desk's spreadsheets (CSV with Japanese headers, written with a BOM to files so Excel opens
them as UTF-8) and for records requests (``export --audit``: who changed what, when).  This is a
local administration tool: whoever runs it can read the database anyway.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.city import load_city
from bot.config import Settings
from bot.ops.migrate import open_current
from bot.precedents.space import PrecedentSpace
from bot.records.export import audit_csv, audit_json, records_csv, records_json
from bot.records.fields import FIELD_NAMES, STATUSES, display_value, field_label, status_label
from bot.records.service import RecordService
from bot.records.views import RecordNotFound, RecordView, iso
from bot.terminal import inert, inert_json


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("records", help="draft proposal records (desk staff)")
    rsub = p.add_subparsers(dest="records_command", required=True)
    r = rsub.add_parser("list")
    r.add_argument("--status")
    r.add_argument("--json", action="store_true")
    r = rsub.add_parser("show")
    r.add_argument("record_id")
    r.add_argument("--json", action="store_true")
    r = rsub.add_parser("export")
    r.add_argument("--format", choices=["csv", "json"], default="csv")
    r.add_argument("--output", "-o")
    r.add_argument("--status", help="only records with this status")
    r.add_argument("--audit", action="store_true", help="export the status history instead")
    r = rsub.add_parser("delete", help="remove a record and its history (e.g. a withdrawn proposal)")
    r.add_argument("record_id")
    r.add_argument("--yes", action="store_true", help="confirm")
    p.set_defaults(handler=run)


def _service(settings: Settings) -> RecordService:
    """The records service as the Slack app has it: a deleted record also leaves precedent search.

    Never migrates: an out-of-date database is refused with one line (bot.ops.migrate).  The
    precedent space opens the internal store only when a record is deleted.
    """
    return RecordService(open_current(settings), settings, city=load_city(settings.knowledge_dir),
                         listeners=[PrecedentSpace(settings)])


def _width(text: str) -> int:
    """Display width in a terminal (full-width characters take two columns)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _cut(text: str, width: int) -> str:
    out = ""
    for c in text:
        if _width(out + c) > width - 1:
            return out + "…"
        out += c
    return out


def _list(args: argparse.Namespace, svc: RecordService) -> int:
    if args.status and args.status not in STATUSES:
        print(f"ppp-desk records: unknown status {args.status!r} (one of: {', '.join(STATUSES)})", file=sys.stderr)
        return 2
    records = svc.list(status=args.status)
    if args.json:
        print(inert_json(json.dumps([r.to_dict() for r in records], ensure_ascii=False, indent=2)))
        return 0
    if not records:
        print("No records." if not args.status else f"No records with status {args.status}.")
        return 0
    print(f"{'id':<12} {_pad('status', 20)} {'submitted':<16}  {_pad('organization', 24)} title")
    for r in records:
        submitted = (iso(r.submitted_at) or "")[:16].replace("T", " ")
        org, title = inert(r.fields.org_name or "—", multiline=False), inert(r.fields.title or "—", multiline=False)
        print(f"{r.display_id:<12} {_pad(status_label(r.status), 20)} {submitted:<16}  "
              f"{_pad(_cut(org, 24), 24)} {_cut(title, 40)}")
    print(f"{len(records)} records")
    return 0


def _show(args: argparse.Namespace, svc: RecordService) -> int:
    try:
        record = svc.get(record_id=args.record_id)
    except RecordNotFound:
        print(f"ppp-desk records: no record {inert(args.record_id)}", file=sys.stderr)
        return 1
    flags = svc.flags(record)
    history = svc.history(record.record_id)
    if getattr(args, "json", False):
        data = record.to_dict()
        data["flags"] = [f.as_dict() for f in flags]
        data["history"] = history
        print(inert_json(json.dumps(data, ensure_ascii=False, indent=2)))
        return 0
    print(inert(_show_text(record, flags, history)))
    return 0


def _show_text(record: RecordView, flags, history: list[dict]) -> str:
    lines = [f"{record.display_id}  {status_label(record.status)}",
             f"提出 {iso(record.submitted_at) or '—'}  更新 {iso(record.updated_at)}  提案者 {record.proposer_user_id}"]
    if record.permalink:
        lines.append(f"相談スレッド {record.permalink}")
    if record.assigned_department:
        lines.append(f"照会先の担当課 {record.assigned_department}")
    lines.append("")
    for name in FIELD_NAMES:
        lines.append(f"{field_label(name)}: {display_value(name, getattr(record.fields, name))}")
    lines.append("")
    lines.append("事前確認:" if flags else "事前確認: 注意点なし")
    for flag in flags:
        lines.append(f"  - {flag.message}")
        if flag.quote:
            lines.append(f"    「{flag.quote}」（{flag.citation}）")
    lines.append("")
    lines.append("履歴:")
    for h in history:
        change = f"{status_label(h['from_status'])} → {status_label(h['to_status'])}" if h["from_status"] \
            else status_label(h["to_status"])
        lines.append(f"  {h['at']}  {h['actor']}  {change}" + (f"  {h['note']}" if h["note"] else ""))
    return "\n".join(lines)


def _export(args: argparse.Namespace, svc: RecordService) -> int:
    if args.audit:
        rows = svc.history()
        text = audit_csv(rows) if args.format == "csv" else audit_json(rows)
        n = len(rows)
    else:
        records = svc.list(status=getattr(args, "status", None))
        text = records_csv(records, svc.flags) if args.format == "csv" else records_json(records, svc.flags)
        n = len(records)
    if args.output:
        path = Path(args.output)
        # Excel reads a UTF-8 CSV as Shift_JIS unless it starts with a BOM.
        path.write_text(text, encoding="utf-8-sig" if args.format == "csv" else "utf-8", newline="")
        print(f"wrote {n} {'history rows' if args.audit else 'records'} to {path}", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _delete(args: argparse.Namespace, svc: RecordService) -> int:
    if not args.yes:
        print("ppp-desk records delete: this removes the record and its history; add --yes to confirm",
              file=sys.stderr)
        return 2
    try:
        view = svc.delete(record_id=args.record_id, actor="cli", staff=True)
    except RecordNotFound:
        print(f"ppp-desk records: no record {args.record_id}", file=sys.stderr)
        return 1
    print(f"deleted {view.display_id}")
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    """``records_command``: list, show, export, delete."""
    svc = _service(settings)
    handler = {"list": _list, "show": _show, "export": _export, "delete": _delete}[args.records_command]
    try:
        return handler(args, svc)
    finally:
        svc.db.dispose()
