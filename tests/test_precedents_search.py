"""Precedent search over the bundled case studies and agreements (real index, real e5, real BM25)."""

from __future__ import annotations

import argparse
import json

import pytest

from bot.config import Settings
from bot.precedents.filters import Filters, parse_query
from bot.precedents.search import SearchPage
from bot.precedents.space import PrecedentSpace

LIGHTBLUE = "cases/aomori-lightblue-pedestrian-ai"
CREEMA = "cases/aomori-creema-nebuta-upcycle"
BANKS = "cases/aomori-banks-furusato-tax-agreement"
MOBBY = "cases/fukuoka-mobby-ride-kickboard"
MIRAI = "agreements/2025-02-13_mirai-kyoso-lab"


@pytest.fixture(scope="module")
def s(kb_settings: Settings) -> Settings:
    """The session's knowledge base with an internal collection of its own (empty here)."""
    return kb_settings.model_copy(update={"internal_collection": "t_search_only_public"})


@pytest.fixture(scope="module")
def space(s: Settings) -> PrecedentSpace:
    """The precedent space the CLI and the Slack app build (one per process, opened on first use)."""
    return PrecedentSpace(s)


def ids(items) -> list[str]:
    return [p.doc_id or p.record_id for p in items]


@pytest.mark.parametrize(("query", "expected"), [
    ("AIで歩行者数を計測", LIGHTBLUE),
    ("歩行量調査 映像解析", LIGHTBLUE),
    ("ねぶた 和紙 アップサイクル", CREEMA),
    ("祭りの後に捨てられる紙を作品に", CREEMA),
    ("企業版ふるさと納税", BANKS),
    ("銀行との連携協定 企業版ふるさと納税", BANKS),
    ("電動キックボード", MOBBY),
    ("シェアリング モビリティ 公道実証", MOBBY),
])
def test_queries_find_the_right_case_first(space: PrecedentSpace, query: str, expected: str) -> None:
    assert ids(space.search(query, limit=3))[0] == expected


def test_english_query_finds_the_pedestrian_case(space: PrecedentSpace) -> None:
    assert LIGHTBLUE in ids(space.search("AI pedestrian counting camera", limit=3))


def test_one_result_per_document_only_cases_and_agreements(space: PrecedentSpace) -> None:
    items = space.search("実証実験 AI データ 協定 連携", Filters(), limit=50)
    assert len(ids(items)) == len(set(ids(items)))
    assert {p.kind for p in items} <= {"case", "agreement"}
    assert not any(i.startswith("aomori/") for i in ids(items))  # the guideline is not a precedent


def test_case_fields_resources_and_citation(space: PrecedentSpace) -> None:
    top = space.search("AIで歩行者数を計測", limit=1)[0]
    assert top.partner == "株式会社 LightblueTechnology"
    assert (top.city, top.year, top.scheme) == ("青森市", 2023, "trial")
    assert "歩行量調査" in top.summary and "\n" not in top.summary
    assert "《モノ》実証フィールドの提供" in top.city_provided
    assert "《モノ》撮影機材一式等" in top.business_provided
    assert "《モノ》実証フィールドの提供" not in top.business_provided
    assert top.citation.startswith(top.title + " › ")


def test_agreement_is_dated_and_its_partners_exclude_the_city(space: PrecedentSpace) -> None:
    top = space.search("未来共創ラボ 慶應義塾大学", limit=1)[0]
    assert top.doc_id == MIRAI
    assert (top.kind, top.scheme, top.year) == ("agreement", "agreement", 2025)
    assert "慶應義塾大学 SFC 研究所" in top.partner and "青森市" not in top.partner.split("、")


def test_year_filter_keeps_only_dated_matches(space: PrecedentSpace) -> None:
    items = space.search("year:2023", limit=50)
    assert items and all(p.year == 2023 for p in items)
    assert {LIGHTBLUE, CREEMA, BANKS} <= set(ids(items))
    assert MOBBY not in ids(items)  # the Fukuoka case carries no year


def test_trial_filter_excludes_partnerships(space: PrecedentSpace) -> None:
    for query in ("scheme:trial 和紙", "実証実験 和紙"):
        items = space.search(query, limit=50)
        assert items and all(p.scheme == "trial" for p in items)
        assert CREEMA not in ids(items)
    partnerships = space.search("scheme:partnership 和紙", limit=3)
    assert ids(partnerships)[0] == CREEMA


def test_city_filter_finds_the_scooter_only_in_fukuoka(space: PrecedentSpace) -> None:
    assert ids(space.search("電動キックボード city:福岡市", limit=5))[0] == MOBBY
    elsewhere = space.search("電動キックボード city:青森市", limit=50)
    assert elsewhere and MOBBY not in ids(elsewhere)
    assert all(p.city == "青森市" for p in elsewhere)


def test_combined_filters_from_the_issue(space: PrecedentSpace) -> None:
    items = space.search("実証実験 AI year:2023", limit=10)
    assert ids(items) == [LIGHTBLUE]
    assert space.search("実証実験 AI year:2023 city:福岡市") == []


def test_agreement_scheme_and_field_filters(space: PrecedentSpace) -> None:
    items = space.search("協定 地方創生", limit=10)
    assert set(ids(items)) == {BANKS, MIRAI}
    env = space.search("field:環境", limit=10)
    assert CREEMA in ids(env) and all("環境" in p.field or "環境" in p.title for p in env)


def test_status_filter_leaves_public_cases_out(space: PrecedentSpace) -> None:
    assert space.search("AI status:received") == []


def test_paging_is_disjoint_and_consistent(space: PrecedentSpace) -> None:
    query, filters = "連携 事業", Filters()
    whole = space.page(query, filters, limit=12)
    first = space.page(query, filters, limit=5, offset=0)
    second = space.page(query, filters, limit=5, offset=5)
    assert first.has_more and second.has_more
    assert ids(first.items) + ids(second.items) == ids(whole.items)[:10]
    assert not set(ids(first.items)) & set(ids(second.items))
    last = space.page(query, filters, limit=5, offset=len(whole.items) - 1)
    assert isinstance(last, SearchPage) and len(last.items) <= 5


def test_filters_only_lists_everything_newest_first(space: PrecedentSpace) -> None:
    items = space.search("city:青森市", limit=50)
    years = [p.year or 0 for p in items]
    assert years == sorted(years, reverse=True)
    assert {LIGHTBLUE, CREEMA, BANKS, MIRAI} <= set(ids(items))


def test_cli_prints_json_and_text(s: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import build_parser

    args = build_parser().parse_args(["precedents", "実証実験 AI year:2023", "--json", "--limit", "3"])
    assert args.handler(args, s) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["filters"] == {"scheme": ["trial"], "year_from": 2023, "year_to": 2023}
    assert [r["doc_id"] for r in out["results"]] == [LIGHTBLUE]
    assert out["results"][0]["city_provided"]

    from bot.cli.precedents import run

    assert run(argparse.Namespace(query="ねぶた 和紙", json=False, limit=2), s) == 0
    text = capsys.readouterr().out
    assert "アップサイクルプロジェクト" in text and "市の提供: " in text and "出典: " in text
    assert run(argparse.Namespace(query="AI city:存在しない市", json=False, limit=2), s) == 1


def test_cli_without_a_knowledge_base(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli.precedents import run

    assert run(argparse.Namespace(query="AI", json=False, limit=2), settings) == 2
    assert "ppp-desk ingest" in capsys.readouterr().err


def test_parse_then_search_equals_search_with_inline_options(space: PrecedentSpace) -> None:
    parsed = parse_query("scheme:trial AI")
    assert ids(space.search(parsed.text, parsed.filters, limit=5)) == \
        ids(space.search("scheme:trial AI", limit=5))
