"""The desk's figures for a period: the weekly digest and ``ppp-desk report`` print the same ones.

Counted in SQL (one pass per table), so a year of questions reports in well under the 2 s target;
only the newest misses are grouped for the top gaps.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from bot import spreadsheet
from bot.db import JST, Database
from bot.knowledge_loop.gaps import GAP_SAMPLE, group
from bot.knowledge_loop.models import QuestionLogEntry
from bot.records.fields import status_label
from bot.records.models import ProposalRecord, StatusChange

TOP_GAPS = 5


@dataclass
class Figures:
    since: str
    until: str
    questions: int = 0
    answered: int = 0
    abstained: int = 0
    refused: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0
    handoffs: int = 0
    drafts_submitted: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    median_hours_to_first_action: float | None = None
    top_gaps: list[dict] = field(default_factory=list)

    @property
    def answered_share(self) -> float:
        return self.answered / self.questions if self.questions else 0.0

    def to_json(self) -> dict:
        return {**asdict(self), "answered_share": round(self.answered_share, 4)}


def figures(db: Database, since: datetime, until: datetime) -> Figures:
    """Figures for questions asked and drafts submitted in [since, until) (aware datetimes).

    The period is reported in Japan time, the desk's own calendar.
    """
    out = Figures(since=since.astimezone(JST).isoformat(), until=until.astimezone(JST).isoformat())
    q = QuestionLogEntry
    in_window = (q.asked_at >= since) & (q.asked_at < until)
    with db.session() as s:
        row = s.execute(select(
            func.count(q.id),
            func.sum(case((q.outcome == "answered", 1), else_=0)),
            func.sum(case((q.outcome == "abstained", 1), else_=0)),
            func.sum(case((q.outcome == "refused", 1), else_=0)),
            func.sum(case((q.feedback == 1, 1), else_=0)),
            func.sum(case((q.feedback == -1, 1), else_=0)),
            func.sum(case((q.handed_off.is_(True), 1), else_=0)),
        ).where(in_window)).one()
        (out.questions, out.answered, out.abstained, out.refused, out.thumbs_up, out.thumbs_down,
         out.handoffs) = (int(v or 0) for v in row)
        r = ProposalRecord
        submitted = (r.submitted_at >= since) & (r.submitted_at < until)
        out.by_status = {status: n for status, n in s.execute(
            select(r.status, func.count(r.pk)).where(submitted).group_by(r.status))}
        out.drafts_submitted = sum(out.by_status.values())
        first = (select(StatusChange.record_pk, func.min(StatusChange.at).label("first_at"))
                 .where(StatusChange.from_status.is_not(None), StatusChange.from_status != "draft")
                 .group_by(StatusChange.record_pk).subquery())
        waits = [(first_at - sub_at).total_seconds() / 3600 for sub_at, first_at in s.execute(
            select(r.submitted_at, first.c.first_at).join(first, first.c.record_pk == r.pk).where(submitted))
            if sub_at is not None and first_at is not None]
        out.median_hours_to_first_action = round(statistics.median(waits), 1) if waits else None
        misses = list(s.scalars(select(q).where(in_window & ((q.outcome == "abstained") | (q.feedback == -1)))
                                .order_by(q.asked_at.desc()).limit(GAP_SAMPLE)))
    out.top_gaps = [{"question": g.example, "count": g.count, "addressed": g.addressed, "newest": g.newest.isoformat()}
                    for g in group(misses, limit=TOP_GAPS)]
    return out


LABELS_JA = [
    ("since", "集計開始"), ("until", "集計終了"), ("questions", "質問数"), ("answered", "回答数"),
    ("answered_share", "回答率"), ("abstained", "資料に記載なし"), ("refused", "お断り"), ("thumbs_up", "👍"),
    ("thumbs_down", "👎"), ("handoffs", "担当者への引き継ぎ"), ("drafts_submitted", "提出された提案"),
    ("median_hours_to_first_action", "提出から最初の対応まで（時間・中央値）"),
]


def _addressed(gap: dict) -> str:
    """How much of a group an approved desk answer covers by now, said only when some is."""
    return f"・うち{gap['addressed']}件はデスク回答で対応済み" if gap.get("addressed") else ""


def to_csv(f: Figures) -> str:
    """Japanese headers, one figure a row, like ``records export``; the caller adds the BOM for files."""
    data = f.to_json()
    rows: list[list[object]] = [["項目", "値"]]
    for key, label in LABELS_JA:
        value = data[key]
        rows.append([label, f"{value:.1%}" if key == "answered_share" else ("" if value is None else value)])
    rows += [[f"提案（{status_label(status)}）", n] for status, n in sorted(f.by_status.items())]
    rows += [[f"未回答グループ{i}（{gap['count']}件{_addressed(gap)}）", gap["question"]]
             for i, gap in enumerate(f.top_gaps, start=1)]
    return spreadsheet.to_csv(rows)


def to_text(f: Figures) -> str:
    last_day = (datetime.fromisoformat(f.until) - timedelta(microseconds=1)).date()  # the end is exclusive
    lines = [f"期間: {f.since[:10]} 〜 {last_day.isoformat()}",
             f"質問 {f.questions} 件（回答 {f.answered}・回答率 {f.answered_share:.0%}、記載なし {f.abstained}、"
             f"お断り {f.refused}）",
             f"👍 {f.thumbs_up} / 👎 {f.thumbs_down}、担当者への引き継ぎ {f.handoffs} 件",
             f"提出された提案 {f.drafts_submitted} 件"
             + (f"（{', '.join(f'{status_label(k)} {v}' for k, v in sorted(f.by_status.items()))}）" if f.by_status else ""),
             "提出から最初の対応まで: " + (f"{f.median_hours_to_first_action} 時間（中央値）"
                                    if f.median_hours_to_first_action is not None else "—")]
    if f.top_gaps:
        lines.append("未回答の多い質問:")
        lines += [f"  {g['count']} 件{_addressed(g)}  {g['question'][:80]}" for g in f.top_gaps]
    return "\n".join(lines)
