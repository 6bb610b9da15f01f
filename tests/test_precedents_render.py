"""Rendering of precedent results (pure): escaping, Block Kit limits, paging buttons, CLI text."""

from __future__ import annotations

import json

from bot.precedents.filters import parse_query
from bot.precedents.render import (
    ACTION_FILTER,
    ACTION_PAGE,
    filter_modal,
    page_blocks,
    result_text,
    text_lines,
)
from bot.precedents.search import Precedent, SearchPage


def record(n: int, **kw) -> Precedent:
    base = {"kind": "record", "title": f"記録 {n}", "partner": "株式会社テスト", "city": "青森市", "year": 2026,
            "scheme": "trial", "summary": "概要です。", "citation": f"受付記録 P-2026-{n:04d}",
            "record_id": f"P-2026-{n:04d}", "status": "received", "asks": "実証フィールド"}
    base.update(kw)
    return Precedent(**base)


def case() -> Precedent:
    return Precedent(kind="case", title="実証実験サポート（株式会社 LightblueTechnology）", partner="株式会社 LightblueTechnology",
                     city="青森市", year=2023, scheme="trial", summary="歩行量調査を AI で。",
                     city_provided=("《ヒト》調整", "《モノ》実証フィールドの提供", "《情報》プレスリリース", "《カネ》なし"),
                     business_provided=("《モノ》撮影機材一式等",), citation="実証実験サポート › 参考資料:連携事例")


def test_untrusted_text_is_escaped_and_links_only_for_http() -> None:
    evil = record(1, title="<!channel> 全員へ <https://evil.example|ここ>", link="javascript:alert(1)",
                  summary="a & b")
    text = result_text(1, evil)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "<javascript:" not in text and "a &amp; b" in text
    linked = result_text(1, record(2, link="https://ppp-test.slack.com/archives/CDESK/p1"))
    assert linked.startswith("*1. <https://ppp-test.slack.com/archives/CDESK/p1|記録 2>*")


def test_case_shows_resources_status_and_trims_long_lists() -> None:
    text = result_text(3, case())
    assert "市の提供: 《ヒト》調整、《モノ》実証フィールドの提供、《情報》プレスリリース ほか1件" in text
    assert "事業者の提供: 《モノ》撮影機材一式等" in text
    assert "事例｜株式会社 LightblueTechnology｜青森市｜2023年｜実証実験" in text
    assert "状態: 受付" in result_text(1, record(1))


def test_page_blocks_buttons_and_limits() -> None:
    filters = parse_query("実証実験 year:2023").filters
    items = [record(i, title="長い" * 2000) for i in range(1, 6)]
    page = SearchPage(query="AI " * 500, filters=filters, items=items, offset=5, has_more=True)
    blocks = page_blocks(page, ignored=["year:someday"])
    assert len(blocks) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    buttons = {e["action_id"]: e for e in blocks[-1]["elements"]}
    assert set(buttons) == {ACTION_PAGE + "_prev", ACTION_PAGE + "_next", ACTION_FILTER}
    assert all(len(e["value"]) <= 2000 for e in buttons.values())
    assert json.loads(buttons[ACTION_PAGE + "_next"]["value"])["o"] == 10
    assert json.loads(buttons[ACTION_PAGE + "_prev"]["value"])["o"] == 0
    assert any("🔒" in e["text"] for b in blocks if b["type"] == "context" for e in b["elements"])
    first = SearchPage(query="AI", filters=filters, items=[case()], offset=0, has_more=False)
    only = {e["action_id"] for e in page_blocks(first)[-1]["elements"]}
    assert only == {ACTION_FILTER}
    assert not any(b["type"] == "context" for b in page_blocks(first))  # no internal notice for cases


def test_empty_page_says_so_politely() -> None:
    page = SearchPage(query="宇宙", filters=parse_query("city:青森市").filters, items=[], offset=0, has_more=False)
    assert "見つかりませんでした" in page_blocks(page)[0]["text"]["text"]


def test_modal_preselects_current_filters_and_caps_options() -> None:
    filters = parse_query("scheme:trial year:2023 city:青森市 status:received").filters
    view = filter_modal(query="AI", filters=filters, fields=[f"分野{i}" for i in range(300)],
                        cities=["青森市", "福岡市"], years=[2023, 2025], statuses=["received", "custom"],
                        metadata={"channel": "C1"})
    selects = {b["block_id"]: b["element"] for b in view["blocks"] if b["element"]["type"] == "static_select"}
    assert selects["scheme"]["initial_option"]["value"] == "trial"
    assert selects["year"]["initial_option"]["value"] == "2023"
    assert selects["city"]["initial_option"]["value"] == "青森市"
    assert selects["status"]["initial_option"]["value"] == "received"
    assert len(selects["field"]["options"]) == 100
    assert "custom" in [o["value"] for o in selects["status"]["options"]]
    assert json.loads(view["private_metadata"]) == {"channel": "C1"}


def test_cli_text_lines() -> None:
    page = SearchPage(query="AI", filters=parse_query("").filters, items=[case(), record(7)], offset=0, has_more=True)
    text = "\n".join(text_lines(page))
    assert "1. 実証実験サポート" in text and "2. 記録 7" in text
    assert "出典: 受付記録 P-2026-0007" in text and "--limit" in text
