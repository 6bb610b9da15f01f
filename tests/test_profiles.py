"""Case profiles are derived once, at ingest, and stored in the manifest (real loaders, e5, Chroma)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from conftest import KNOWLEDGE, make_settings
from test_ingest import make_corpus

from bot.config import Settings
from ingest.chunking import chunk_document
from ingest.index import KnowledgeIndex
from ingest.loaders import load
from ingest.pipeline import ingest
from ingest.profiles import CaseProfile, case_profile, profile_for
from ingest.store import ChunkStore

LIGHTBLUE = "cases/aomori-lightblue-pedestrian-ai.md"
MIRAI = "agreements/2025-02-13_mirai-kyoso-lab.md"
FUKUOKA = "cases/fukuoka-mobby-ride-kickboard.md"
OVERVIEW = "aomori/overview.pdf"


def profile_of(rel: str, root: Path = KNOWLEDGE) -> CaseProfile | None:
    loaded = load(root / rel, root)
    return profile_for(loaded.doc_id, loaded.metadata, chunk_document(loaded))


def test_a_case_profile_reads_partner_year_scheme_summary_and_resources() -> None:
    profile = profile_of(LIGHTBLUE)
    assert profile is not None
    assert profile.partner == "株式会社 LightblueTechnology"
    assert (profile.kind, profile.city, profile.year, profile.scheme) == ("case", "青森市", 2023, "trial")
    assert "歩行量調査" in profile.summary and "\n" not in profile.summary
    assert "《モノ》実証フィールドの提供" in profile.city_provided
    assert "《モノ》撮影機材一式等" in profile.business_provided
    assert "《モノ》実証フィールドの提供" not in profile.business_provided
    assert profile.first_section


def test_an_agreement_is_dated_by_publication_and_its_partners_exclude_the_city() -> None:
    profile = profile_of(MIRAI)
    assert profile is not None
    assert (profile.kind, profile.scheme, profile.year) == ("agreement", "agreement", 2025)
    assert "慶應義塾大学 SFC 研究所" in profile.partner and "青森市" not in profile.partner.split("、")


def test_only_cases_and_agreements_get_a_profile() -> None:
    assert profile_of(OVERVIEW) is None


def test_a_profile_survives_the_manifest_round_trip() -> None:
    profile = profile_of(LIGHTBLUE)
    assert profile is not None
    assert CaseProfile.from_json(profile.to_json()) == profile
    assert CaseProfile.from_json("") is None and CaseProfile.from_json("{not json") is None


@pytest.fixture
def cfg(tmp_path: Path) -> Settings:
    kdir = make_corpus(tmp_path / "knowledge", [FUKUOKA, OVERVIEW])
    return make_settings(tmp_path / "data", PPP_KNOWLEDGE_DIR=kdir)


def test_ingest_stores_the_profile_in_the_manifest_and_the_index_reads_it(cfg: Settings) -> None:
    assert ingest(cfg, progress=False).ok
    docs = ChunkStore(cfg).documents()
    case_id = FUKUOKA.rsplit(".", 1)[0]
    assert docs[case_id].profile == profile_of(FUKUOKA, cfg.knowledge_dir)
    assert docs[OVERVIEW.rsplit(".", 1)[0]].profile is None
    index = KnowledgeIndex(cfg)
    assert index.profiles == {case_id: docs[case_id].profile}
    # Ingest derived it from the chunks it made; the chunks the store holds give the same profile.
    chunks = sorted((c for c in index.chunks.values() if c.doc_id == case_id), key=lambda c: c.meta["position"])
    assert case_profile(case_id, chunks[0].meta, chunks) == docs[case_id].profile


def test_a_store_from_before_profiles_is_served_and_the_next_ingest_stores_them_without_re_embedding(
        cfg: Settings, caplog: pytest.LogCaptureFixture) -> None:
    assert ingest(cfg, progress=False).ok
    store = ChunkStore(cfg)
    case_id = FUKUOKA.rsplit(".", 1)[0]
    stored = store.documents()[case_id]
    # What an older version wrote: no profile key, and a file hash of another pipeline version.
    old = dataclasses.replace(stored, file_hash="v8-hash").to_metadata()
    del old["profile"]
    store.forget_document(case_id)
    store.manifest.add(ids=[case_id], embeddings=[[1.0]], metadatas=[old])
    assert store.documents()[case_id].profile is None

    with caplog.at_level(logging.WARNING, logger="ingest.index"):
        assert KnowledgeIndex(cfg).profiles == {case_id: stored.profile}  # derived from its chunks
    assert "no stored profile" in caplog.text

    again = ingest(cfg, progress=False)
    assert again.updated == [case_id] and again.chunks_written == 0
    assert store.documents()[case_id].profile == stored.profile


def test_a_document_that_stops_being_a_case_loses_its_profile(cfg: Settings) -> None:
    assert ingest(cfg, progress=False).ok
    case = cfg.knowledge_dir / FUKUOKA
    case.write_text(case.read_text("utf-8").replace("doc_type: case_study", "doc_type: guideline", 1), "utf-8")
    assert ingest(cfg, progress=False).updated == [FUKUOKA.rsplit(".", 1)[0]]
    assert ChunkStore(cfg).documents()[FUKUOKA.rsplit(".", 1)[0]].profile is None
    assert KnowledgeIndex(cfg).profiles == {}

