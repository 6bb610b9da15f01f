"""Rendering of precedent results: Slack Block Kit, the filter modal, and plain text for the CLI (pure).

Data in, JSON-ready dicts or strings out, so every shape is tested without Slack.  Results stay
compact (one section per result) and within Block Kit's limits; everything taken from documents or
records is escaped so a record title cannot mention ``@channel`` or forge a link.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from bot.precedents.filters import SCHEMES, Filters, fold, parse_status
from bot.precedents.search import Precedent, SearchPage
from bot.slack import kit
from bot.slack.kit import BUTTON_VALUE_LIMIT, SECTION_LIMIT, Block, button, context, escape, section, truncate
from bot.slack.texts import t

ACTION_PAGE = "precedents_page"
ACTION_FILTER = "precedents_filter"
MODAL_CALLBACK = "precedents_filter_modal"
PAGE_SIZE = 5
_ITEMS_SHOWN = 3

SCHEME_LABELS = {"partnership": "パートナーシップ", "trial": "実証実験", "agreement": "協定", "undecided": "未定"}
KIND_LABELS = {"case": "事例", "agreement": "協定", "record": "🔒受付記録"}
# The records feature's status codes and the desk's words for them (bot/records/fields.py).
STATUS_LABELS = {
    "draft": "下書き", "submitted": "提出済み（受付待ち）", "received": "受付", "in_dialogue": "対話・調整中",
    "department_inquiry": "担当課照会", "approved": "実施決定", "declined": "見送り",
    "info_requested": "追加情報を依頼",
}

REFUSAL = t("ja", "staff_only_precedents")
FAILED = ("申し訳ありません。前例の検索中にエラーが発生しました。しばらくしてからもう一度お試しください。"
          "続く場合は管理者にお知らせください。")
HELP = ("前例検索の使い方です。`/ppp-precedents 実証実験 AI year:2023 city:青森市` のように、キーワードと"
        "条件（scheme / field / city / year / status）を入力してください。条件だけでも検索できます。")


def scheme_label(scheme: str) -> str:
    return SCHEME_LABELS.get(scheme, scheme)


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def _facts(p: Precedent) -> list[str]:
    """Kind, partner, city, year, scheme, status: the same facts in Slack and in the CLI."""
    parts = [KIND_LABELS.get(p.kind, p.kind)]
    parts += [x for x in (p.partner, p.city, f"{p.year}年" if p.year else "", scheme_label(p.scheme)) if x]
    if p.status:
        parts.append(f"状態: {status_label(p.status)}")
    return parts


def _details(p: Precedent, join: Callable[[Sequence[str]], str]) -> list[str]:
    """Summary and resources as plain lines (Slack escapes them, the CLI indents them)."""
    lines = [p.summary] if p.summary else []
    if p.city_provided:
        lines.append(f"市の提供: {join(p.city_provided)}")
    if p.business_provided:
        lines.append(f"事業者の提供: {join(p.business_provided)}")
    if p.asks:
        lines.append(f"市への依頼: {p.asks}")
    return lines


def _joined(items: Sequence[str]) -> str:
    shown = "、".join(items[:_ITEMS_SHOWN])
    return shown + (f" ほか{len(items) - _ITEMS_SHOWN}件" if len(items) > _ITEMS_SHOWN else "")


def result_text(n: int, p: Precedent) -> str:
    """One result as mrkdwn: title (linked for records), facts, summary, resources, citation."""
    title = escape(p.title)
    if p.link.startswith(("https://", "http://")):
        title = f"<{escape(p.link)}|{title}>"
    lines = [f"*{n}. {title}*", "｜".join(escape(x) for x in _facts(p))]
    lines += [escape(x) for x in _details(p, _joined)]
    lines.append(f"_{escape(p.citation)}_")
    return truncate("\n".join(lines), SECTION_LIMIT)


def page_value(query: str, filters: Filters, offset: int) -> str:
    """Button value that reproduces a page (query cut so the value stays under Slack's limit)."""
    data = {"q": query[:400], "f": filters.to_dict(), "o": max(0, offset)}
    value = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return value if len(value) <= BUTTON_VALUE_LIMIT else json.dumps({"q": "", "f": {}, "o": 0})


def parse_page_value(raw: str | None) -> tuple[str, Filters, int]:
    """Inverse of :func:`page_value`; anything malformed becomes an empty first page."""
    try:
        data = json.loads(raw or "{}")
        if not isinstance(data, dict):
            raise ValueError
        offset = int(data.get("o") or 0)
        return str(data.get("q") or ""), Filters.from_dict(data.get("f")), max(0, offset)
    except (TypeError, ValueError):
        return "", Filters(), 0


def header_text(page: SearchPage) -> str:
    what = f"「{escape(page.query)}」" if page.query else "条件に合う"
    cond = page.filters.describe()
    head = f"{what}の前例" + (f"（{escape(cond)}）" if cond else "")
    if not page.items:
        return head + "は見つかりませんでした。キーワードや条件を変えてお試しください。"
    first = page.offset + 1
    return f"{head}：{first}〜{page.offset + len(page.items)}件目"


def page_blocks(page: SearchPage, *, ignored: Iterable[str] = ()) -> list[Block]:
    """The compact result list with 「前へ」「さらに表示」「条件で絞り込む」 buttons."""
    blocks: list[Block] = [section(header_text(page))]
    ignored = list(ignored)
    if ignored:
        blocks.append(context(truncate("読み取れなかった条件: " + escape(" ".join(ignored)), 2000)))
    blocks += [section(result_text(i, p)) for i, p in enumerate(page.items, start=page.offset + 1)]
    if any(p.internal for p in page.items):
        blocks.append(context("🔒 受付記録はデスク内部の情報です。事業者への転送・共有はお控えください。"))
    buttons: list[Block] = []
    size = max(len(page.items), PAGE_SIZE)
    if page.offset > 0:
        buttons.append(button("前へ", ACTION_PAGE + "_prev",
                              page_value(page.query, page.filters, max(0, page.offset - size))))
    if page.has_more:
        buttons.append(button("さらに表示", ACTION_PAGE + "_next",
                              page_value(page.query, page.filters, page.offset + len(page.items))))
    buttons.append(button("条件で絞り込む", ACTION_FILTER, page_value(page.query, page.filters, 0)))
    blocks.append(kit.actions(buttons, block_id="precedents_nav"))
    return blocks


def fallback_text(page: SearchPage) -> str:
    """Notification text (no internal details: titles only for public cases)."""
    return header_text(page).replace("*", "")


# --- the filter modal ---------------------------------------------------------------------------------
def _select(block_id: str, label: str, options: list[Block], initial: str | None) -> Block:
    element = kit.choice("static_select", "value", options, initial=initial, placeholder="指定なし")
    return kit.input_block(block_id, label, element, optional=True)


def filter_modal(*, query: str, filters: Filters, fields: Iterable[str], cities: Iterable[str],
                 years: Iterable[int], statuses: Iterable[str], metadata: dict[str, Any]) -> Block:
    """Modal with keyword box and select menus; the option lists come from the indexed data."""
    year = filters.year_from if filters.year_from == filters.year_to else None
    keyword = kit.text_input("value", initial=query[:150], placeholder="例: AI 歩行者")
    scheme = next(iter(sorted(filters.schemes)), None) if len(filters.schemes) == 1 else None
    blocks = [
        kit.input_block("q", "キーワード", keyword, optional=True),
        _select("scheme", "スキーム", [kit.option(SCHEME_LABELS[s], s) for s in SCHEMES], scheme),
        _select("field", "分野・テーマ", [kit.option(f, f) for f in sorted(set(fields)) if f], filters.field or None),
        _select("city", "自治体", [kit.option(c, c) for c in sorted(set(cities)) if c], filters.city or None),
        _select("year", "年", [kit.option(f"{y}年", str(y)) for y in sorted(set(years), reverse=True)],
                str(year) if year else None),
        _select("status", "受付記録の状態", [kit.option(status_label(s), s) for s in _ordered_statuses(statuses)],
                filters.status or None),
    ]
    return kit.modal(MODAL_CALLBACK, "前例を絞り込む", blocks, close="やめる", submit="検索", metadata=metadata)


def _ordered_statuses(statuses: Iterable[str]) -> list[str]:
    found = set(statuses) | set(STATUS_LABELS)
    return [s for s in STATUS_LABELS if s in found] + sorted(found - set(STATUS_LABELS))


def modal_choices(state_values: dict[str, Any]) -> tuple[str, Filters]:
    """(keyword, Filters) from a view submission's ``state.values``; unknown values are ignored."""
    def picked(block_id: str) -> str:
        element = (state_values.get(block_id) or {}).get("value") or {}
        option = element.get("selected_option") or {}
        return str(option.get("value") or element.get("value") or "").strip()

    year_raw = picked("year")
    year = int(year_raw) if year_raw.isdigit() else None
    scheme = picked("scheme")
    filters = Filters(schemes=frozenset([scheme]) if scheme in SCHEMES else frozenset(),
                      field=fold(picked("field")), city=fold(picked("city")), year_from=year, year_to=year,
                      status=parse_status(picked("status")) if picked("status") else "")
    return picked("q"), filters


# --- plain text (CLI) --------------------------------------------------------------------------------
def text_lines(page: SearchPage) -> list[str]:
    """Human-readable listing for ``ppp-desk precedents``."""
    lines = [header_text(page).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")]
    for i, p in enumerate(page.items, start=page.offset + 1):
        facts = "｜".join(x for x in _facts(p) if x).lstrip("🔒")
        lines.append(f"{i}. {p.title}  [{p.score:.3f}]")
        lines.append(f"   {facts}")
        lines += [f"   {x}" for x in _details(p, "、".join)]
        lines.append(f"   出典: {p.citation}" + (f"  {p.link}" if p.link else ""))
    if page.has_more:
        lines.append("（さらに結果があります。--limit で件数を増やせます）")
    return lines
