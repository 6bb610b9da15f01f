"""Precedent query parsing and filter matching (pure functions, no index)."""

from __future__ import annotations

import pytest

from bot.precedents.filters import Filters, matches, merge, parse_query, parse_year, parse_year_range
from bot.precedents.render import modal_choices, page_value, parse_page_value


def test_the_issue_example_splits_text_and_filters() -> None:
    parsed = parse_query("実証実験 AI year:2023 city:青森市 status:received scheme:trial")
    assert parsed.text == "AI"
    f = parsed.filters
    assert f.schemes == {"trial"}
    assert (f.year_from, f.year_to) == (2023, 2023)
    assert f.city == "青森市"
    assert f.status == "received"
    assert parsed.ignored == ()


@pytest.mark.parametrize(("raw", "schemes"), [
    ("パートナーシップ 観光", {"partnership"}),
    ("連携事業 観光", {"partnership"}),
    ("実証実験サポート ドローン", {"trial"}),
    ("協定 銀行", {"agreement"}),
    ("scheme:パートナーシップ,実証実験", {"partnership", "trial"}),
    ("スキーム：協定", {"agreement"}),
    ("ＳＣＨＥＭＥ：ＴＲＩＡＬ", {"trial"}),
])
def test_scheme_words_and_keys_in_japanese_and_english(raw: str, schemes: set[str]) -> None:
    assert parse_query(raw).filters.schemes == schemes


def test_scheme_word_inside_a_longer_word_stays_search_text() -> None:
    parsed = parse_query("企業版ふるさと納税の連携協定について")
    assert parsed.filters.schemes == frozenset()
    assert parsed.text == "企業版ふるさと納税の連携協定について"


@pytest.mark.parametrize(("raw", "expected"), [
    ("年度:令和5", (2023, 2023)), ("year:R5", (2023, 2023)), ("年:2023年", (2023, 2023)),
    ("year:令和元年", (2019, 2019)), ("year:平成30年度", (2018, 2018)), ("year:2022-2024", (2022, 2024)),
    ("year:2022..2024", (2022, 2024)), ("year:2022〜2024", (2022, 2024)), ("year:2023-", (2023, 2100)),
])
def test_years_western_japanese_era_and_ranges(raw: str, expected: tuple[int, int]) -> None:
    f = parse_query(raw).filters
    assert (f.year_from, f.year_to) == expected


def test_unreadable_options_are_reported_and_do_not_undo_valid_ones() -> None:
    parsed = parse_query("AI year:2023 year:someday scheme:whatever kind:planet")
    assert (parsed.filters.year_from, parsed.filters.year_to) == (2023, 2023)
    assert parsed.filters.schemes == frozenset()
    assert set(parsed.ignored) == {"year:someday", "scheme:whatever", "kind:planet"}
    assert parsed.text == "AI"


def test_unknown_keys_and_urls_stay_search_text() -> None:
    parsed = parse_query("https://example.jp/a foo:bar 分野:観光 都市:\"北九州 市\"")
    assert parsed.text == "https://example.jp/a foo:bar"
    assert parsed.filters.field == "観光"
    assert parsed.filters.city == "北九州 市"


def test_status_labels_map_to_the_records_codes() -> None:
    assert parse_query("状態:受付").filters.status == "received"
    assert parse_query("ステータス:実施決定").filters.status == "approved"
    assert parse_query("status:info_requested").filters.status == "info_requested"
    assert parse_query("status:受付").filters.internal_only


def test_year_parsers_reject_nonsense() -> None:
    assert parse_year("令和100") is None
    assert parse_year("12") is None
    assert parse_year_range("2024-2022") is None


def _case(**kw):
    base = {"kind": "case", "scheme": "trial", "city": "青森市", "year": 2023, "field_text": "AI活用 実証実験サポート"}
    base.update(kw)
    return base


def test_matches_every_filter_and_unknown_values_fail() -> None:
    f = parse_query("scheme:trial year:2023 city:青森 field:ai").filters
    assert matches(f, **_case())
    assert not matches(f, **_case(scheme="partnership"))
    assert not matches(f, **_case(year=None))  # an undated case is not "a 2023 case"
    assert not matches(f, **_case(year=2022))
    assert not matches(f, **_case(city="福岡市"))
    assert not matches(f, **_case(field_text="交通"))
    # status is a property of records only
    g = Filters(status="received")
    assert not matches(g, **_case())
    assert matches(g, **_case(kind="record"), status="received")
    assert not matches(g, **_case(kind="record"), status="declined")


def test_filters_survive_a_button_value_and_malformed_values_do_not() -> None:
    f = parse_query("scheme:trial,agreement year:2022-2023 city:青森市 status:受付 分野:AI").filters
    q, back, offset = parse_page_value(page_value("歩行者 AI", f, 5))
    assert (q, back, offset) == ("歩行者 AI", f, 5)
    assert parse_page_value("not json") == ("", Filters(), 0)
    assert parse_page_value('{"q": 1, "f": {"scheme": ["bogus"], "year_from": "x"}, "o": -3}') == ("1", Filters(), 0)


def test_modal_choices_override_typed_options() -> None:
    values = {"q": {"value": {"type": "plain_text_input", "value": "歩行者 year:2020"}},
              "scheme": {"value": {"type": "static_select", "selected_option": {"value": "trial"}}},
              "year": {"value": {"type": "static_select", "selected_option": {"value": "2023"}}},
              "city": {"value": {"type": "static_select", "selected_option": None}}}
    keyword, chosen = modal_choices(values)
    parsed = parse_query(keyword)
    merged = merge(parsed.filters, chosen)
    assert parsed.text == "歩行者"
    assert merged.schemes == {"trial"} and (merged.year_from, merged.year_to) == (2023, 2023)
    assert merged.city == ""
