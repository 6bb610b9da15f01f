"""The internal space: intake records follow the records feature's hooks, searchable by staff only."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from bot.config import Settings
from bot.precedents.filters import Filters
from bot.precedents.internal import InternalIndex, open_internal_client, record_view
from bot.precedents.space import PrecedentSpace
from ingest.store import ChunkStore, WallViolation

LIGHTBLUE = "cases/aomori-lightblue-pedestrian-ai"


@pytest.fixture
def s(kb_settings: Settings) -> Settings:
    """The session's public knowledge plus a fresh internal collection for this test."""
    return kb_settings.model_copy(update={"internal_collection": f"t_int_{uuid.uuid4().hex[:10]}"})


@pytest.fixture
def space(s: Settings) -> PrecedentSpace:
    """The precedent space a Slack app or the CLI would build for these settings."""
    return PrecedentSpace(s)


def record(rid: str, title: str, summary: str, **kw) -> dict:
    base = {"id": rid, "status": "received", "title": title, "summary": summary, "org_name": "テスト株式会社",
            "scheme": "trial", "kind": "open", "asks": ["field", "pr"], "created_at": "2026-01-15T10:00:00+09:00",
            "desk_permalink": f"https://ppp-test.slack.com/archives/CDESK/p{rid[-4:]}"}
    base.update(kw)
    return base


def record_ids(items) -> list[str]:
    return [p.record_id for p in items if p.kind == "record"]


def test_saved_record_is_searchable_updated_replaced_deleted_gone(s: Settings, space: PrecedentSpace) -> None:
    rid = "P-2026-0101"
    space.record_saved(record(
        rid, "雪下ろしロボットの実証", "豪雪地帯の屋根の雪下ろしを遠隔操作ロボットで行う実証実験の提案です。"))
    hits = space.search("屋根の雪下ろしロボット", limit=3)
    assert record_ids(hits)[:1] == [rid]
    top = hits[0]
    assert (top.kind, top.status, top.scheme, top.city, top.year) == ("record", "received", "trial", "青森市", 2026)
    assert top.partner == "テスト株式会社" and top.asks == "実証フィールド、PR・広報"
    assert top.link.endswith("p0101") and top.citation == f"受付記録 {rid}"

    # Updated: the new text is found, the old text no longer leads to it, one entry only.
    space.record_saved(record(
        rid, "除雪車の運行データ分析", "除雪車のGPSデータを分析して除雪ルートを最適化する提案です。", status="in_dialogue"))
    updated = space.search("除雪車 GPS ルート最適化", limit=3)
    assert record_ids(updated)[:1] == [rid] and updated[0].status == "in_dialogue"
    index = space.index
    stored = index.collection.get(where={"record_id": rid}, include=["documents"])["documents"]
    assert stored and not any("雪下ろし" in d for d in stored)
    assert index.lexical("雪下ろし ロボット", 5) == []  # the old words lead nowhere
    assert record_ids(space.search("除雪", limit=50)).count(rid) == 1

    space.record_deleted(rid)
    assert rid not in record_ids(space.search("除雪車 GPS ルート最適化", limit=50))
    assert space.index.collection.get(where={"record_id": rid})["ids"] == []


def test_long_record_is_several_passages_but_one_result_and_shrinks_cleanly(s: Settings, space: PrecedentSpace) -> None:
    index = space.index
    long_summary = "。".join(f"第{i}段階では地域の観光資源をデジタル地図で紹介します" for i in range(40)) + "。"
    index.upsert(record("P-2026-0201", "観光デジタルマップ", long_summary))
    assert len(index.collection.get(where={"record_id": "P-2026-0201"})["ids"]) > 1
    assert record_ids(space.search("観光 デジタル地図", limit=10)) == ["P-2026-0201"]
    index.upsert(record("P-2026-0201", "観光デジタルマップ", "短い概要です。"))
    assert len(index.collection.get(where={"record_id": "P-2026-0201"})["ids"]) == 1


def test_similar_precedents_three_nearest_excluding_itself(s: Settings, space: PrecedentSpace) -> None:
    related = [
        record("P-2025-0001", "AIカメラによる商店街の通行量調査", "商店街の通行量をAIカメラで自動計測する実証実験の提案です。"),
        record("P-2025-0002", "駅前の人流データ計測", "駅前広場にセンサーを置き、歩行者の人数を自動で数える提案です。"),
        record("P-2025-0003", "イベント来場者のAIカウント", "祭りの来場者数を映像解析で自動集計する提案です。"),
    ]
    unrelated = [
        record("P-2025-0004", "りんごジェラートの商品開発", "規格外のりんごを使ったジェラートを販売する提案です。"),
        record("P-2025-0005", "子育て世帯向けの料理教室", "移住した子育て世帯向けに地元食材の料理教室を開く提案です。"),
        record("P-2025-0006", "古着のリユース拠点", "不要な衣類を回収して再販売するリユース拠点の提案です。"),
    ]
    for r in related + unrelated:
        space.record_saved(r)
    me = record("P-2026-0007", "AIで歩行者数を数える実証", "カメラ映像をAIで解析して歩行者数を自動計測したいです。")
    space.record_saved(me)

    got = space.similar(f"{me['title']}\n{me['summary']}", k=3,
                      exclude_record_id=me["id"])
    assert len(got) == 3
    assert all({"title", "summary", "link_or_citation", "kind", "city", "year", "scheme", "score"} <= set(d)
               for d in got)
    found = {d["record_id"] or d["title"] for d in got}
    assert me["id"] not in found
    allowed = {r["id"] for r in related} | {"実証実験サポート（株式会社 LightblueTechnology）"}
    assert found <= allowed, found
    assert [d["score"] for d in got] == sorted((d["score"] for d in got), reverse=True)
    assert {d["kind"] for d in got} <= {"case", "record"}
    # Without the exclusion the record finds itself first.
    assert space.similar(f"{me['title']}\n{me['summary']}",
                       k=3)[0]["record_id"] == me["id"]


def test_record_filters_status_kind_city_year(s: Settings, space: PrecedentSpace) -> None:
    index = space.index
    index.upsert(record("P-2026-0301", "ドローン配送の実証", "山間部へのドローン配送を試す提案です。", status="received"))
    index.upsert(record("P-2025-0302", "ドローン空撮の観光PR", "ドローン空撮で観光PR動画を作る提案です。",
                        status="declined", scheme="パートナーシップ", created_at="2025-05-01T09:00:00+09:00"))
    assert record_ids(space.search("ドローン status:受付", limit=10)) == ["P-2026-0301"]
    assert record_ids(space.search("ドローン status:declined", limit=10)) == ["P-2025-0302"]
    assert record_ids(space.search("ドローン scheme:partnership", limit=20)) == ["P-2025-0302"]
    assert record_ids(space.search("ドローン year:2025", limit=20)) == ["P-2025-0302"]
    assert set(record_ids(space.search("ドローン city:青森市", limit=50))) == {"P-2026-0301", "P-2025-0302"}
    assert record_ids(space.search("ドローン city:福岡市", limit=50)) == []
    assert record_ids(space.search("ドローン kind:case", limit=50)) == []
    only = space.search("ドローン kind:record", limit=50)
    assert only and all(p.kind == "record" for p in only)
    listing = space.search("", Filters(status="received"), limit=10)
    assert record_ids(listing) == ["P-2026-0301"]


def test_records_and_cases_rank_together(s: Settings, space: PrecedentSpace) -> None:
    space.index.upsert(record("P-2026-0401", "AIカメラで歩行者数を計測", "商店街の歩行者数をAIで計測します。"))
    top = [p.doc_id or p.record_id for p in space.search("AIで歩行者数を計測", limit=3)]
    assert {"P-2026-0401", LIGHTBLUE} <= set(top)


def test_another_worker_sees_writes(s: Settings) -> None:
    """Two processes are two views on one store: a write in one shows up in the other."""
    a = InternalIndex(s)
    b = InternalIndex(s)
    a.upsert(record("P-2026-0501", "公園のキッチンカー", "公園でキッチンカーを営業する提案です。"))
    vector = b.embeddings.embed_query("公園 キッチンカー")
    assert [v.record_id for v, _ in b.dense(vector, 3)] == ["P-2026-0501"]
    assert [v.record_id for v, _ in b.lexical("キッチンカー", 3)] == ["P-2026-0501"]
    b.delete("P-2026-0501")
    assert a.dense(vector, 3) == [] and a.lexical("キッチンカー", 3) == []


def test_record_view_is_tolerant_and_needs_an_id() -> None:
    view = record_view({"id": "P-1", "scheme": "実証実験サポート", "asks": ["data", "新しい依頼"]}, "青森市")
    assert (view.title, view.scheme, view.asks, view.city, view.year) == ("P-1", "trial", "行政データ、新しい依頼",
                                                                          "青森市", None)
    assert record_view({"id": "P-2", "scheme": "undecided", "city": "弘前市"}).scheme == "undecided"
    with pytest.raises(ValueError):
        record_view({"title": "no id"})


def test_the_internal_collection_is_marked_and_the_public_store_refuses_it(s: Settings, space: PrecedentSpace) -> None:
    index = space.index
    index.upsert(record("P-2026-0601", "壁のテスト", "公開側から開けないことを確かめます。"))
    assert (index.collection.metadata or {}).get("space") == "internal"
    with pytest.raises(WallViolation):
        ChunkStore(s, collection=s.internal_collection)
    # Even under another name in the configuration (a Chroma server holding both spaces), the
    # marker on the collection itself refuses the public store.
    renamed = s.model_copy(update={"collection": s.internal_collection, "internal_collection": "something_else"})
    with pytest.raises(WallViolation):
        ChunkStore(renamed, client=open_internal_client(s))


def test_settings_refuse_one_collection_for_both_spaces(tmp_path) -> None:
    from conftest import make_settings
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        make_settings(tmp_path, PPP_COLLECTION="shared", PPP_INTERNAL_COLLECTION="shared")
    assert make_settings(tmp_path).internal_dir != make_settings(tmp_path).chroma_dir


def test_a_collection_of_another_model_or_without_the_marker_is_refused(s: Settings, space: PrecedentSpace) -> None:
    from bot.precedents.internal import InternalStoreError

    client = open_internal_client(s)
    client.create_collection(s.internal_collection, metadata={"space": "internal", "embedding_model": "other"})
    with pytest.raises(InternalStoreError, match="other"):
        InternalIndex(s)
    unmarked = s.model_copy(update={"internal_collection": s.internal_collection + "_plain"})
    client.create_collection(unmarked.internal_collection, metadata={"note": "made by hand"})
    with pytest.raises(InternalStoreError, match="not marked internal"):
        InternalIndex(unmarked)


def test_a_status_change_keeps_vectors_and_the_bm25_index(s: Settings, space: PrecedentSpace) -> None:
    index = space.index
    index.upsert(record("P-2026-0701", "地域通貨アプリ", "商店街で使える地域通貨アプリの提案です。"))
    index.upsert(record("P-2026-0702", "空き家の活用", "空き家を移住体験住宅にする提案です。"))
    assert index.lexical("地域通貨", 3)  # builds BM25
    lexical, row = index._view.lexical, index._view.chunk_ids.index("P-2026-0701::0")
    vector = index._view.vectors[row].copy()
    index.upsert(record("P-2026-0701", "地域通貨アプリ", "商店街で使える地域通貨アプリの提案です。", status="approved"))
    assert index._view.lexical is lexical  # same text: nothing to rebuild
    assert np.allclose(index._view.vectors[index._view.chunk_ids.index("P-2026-0701::0")], vector)
    assert record_ids(space.search("地域通貨 status:approved", limit=5)) == ["P-2026-0701"]
    index.upsert(record("P-2026-0701", "地域通貨とポイント", "地域通貨とポイントを連携する提案です。"))
    assert index._view.lexical is None  # the text changed: BM25 is rebuilt on the next search


def test_in_place_updates_match_a_fresh_load(s: Settings, space: PrecedentSpace) -> None:
    """Whatever sequence of writes, this process's view equals what a restarted worker loads."""
    import random

    rng = random.Random(3)
    index = space.index
    words = ["AIカメラ", "ドローン", "除雪", "観光", "子育て", "ごみ減量", "健康", "防災"]
    for step in range(40):
        rid = f"P-2026-08{rng.randint(0, 11):02d}"
        if rng.random() < 0.25:
            index.delete(rid)
            continue
        topic = rng.choice(words)
        summary = f"{topic}に関する提案です。" * rng.choice([1, 1, 1, 30])  # sometimes several passages
        index.upsert(record(rid, f"{topic}の取り組み {step}", summary, status=rng.choice(["received", "declined"])))
    fresh = InternalIndex(s)
    assert fresh._view.records == index._view.records
    assert sorted(fresh._view.chunk_ids) == sorted(index._view.chunk_ids)
    for query in words:
        vector = index.embeddings.embed_query(query)
        # All records (k above their number), so ties cannot differ at a cut-off.
        assert sorted((round(x, 4), v.record_id) for v, x in index.dense(vector, 50)) == \
            sorted((round(x, 4), v.record_id) for v, x in fresh.dense(vector, 50))
        assert sorted((round(x, 4), v.record_id) for v, x in index.lexical(query, 50, Filters(status="received"))) \
            == sorted((round(x, 4), v.record_id) for v, x in fresh.lexical(query, 50, Filters(status="received")))
