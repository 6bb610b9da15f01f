"""The Chroma server path: CHROMA_HOST/CHROMA_PORT send the store to a real ``chroma run`` process.

Deployments with several bot workers share one Chroma server instead of an embedded store, so the
whole cycle — ingest, idempotent re-run, prune, model check, reading through ``KnowledgeIndex`` —
is exercised against a server started for this test.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import chromadb
import pytest
from conftest import KNOWLEDGE, make_settings

from bot.config import Settings
from ingest.index import KnowledgeIndex
from ingest.pipeline import ingest
from ingest.store import ChunkStore

CHROMA = Path(sys.executable).with_name("chroma")
FILES = ["aomori/overview.pdf", "cases/kobe-uber-eats.md", "cases/sendai-kosen-wildlife-capture.md"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMA.exists(), reason=f"no chroma executable next to the interpreter ({CHROMA})"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_heartbeat(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text("utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"chroma exited with status {proc.returncode}: {tail}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"chroma server on port {port} did not answer within {timeout:.0f}s")


@pytest.fixture(scope="module")
def chroma_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real Chroma server on a free port, stopped (and waited for) at the end of the module."""
    path = tmp_path_factory.mktemp("chroma-server")
    log = path.parent / "chroma-server.log"
    port = _free_port()
    # Output goes to a file: an unread pipe fills up and blocks the server mid-request.
    with log.open("w") as out:
        proc = subprocess.Popen([str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_heartbeat(port, proc, log)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def server_settings(chroma_port: int, tmp_path: Path) -> Settings:
    kdir = tmp_path / "knowledge"
    for rel in FILES:
        (kdir / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(KNOWLEDGE / rel, kdir / rel)
    return make_settings(tmp_path / "data", PPP_KNOWLEDGE_DIR=kdir, CHROMA_HOST="127.0.0.1",
                         CHROMA_PORT=chroma_port, PPP_COLLECTION=f"srv_{tmp_path.name[-20:]}")


def test_ingest_and_query_through_a_chroma_server(server_settings: Settings) -> None:
    settings = server_settings
    first = ingest(settings, progress=False)
    assert first.ok and len(first.added) == 3 and first.chunks_written > 0

    # Vectors went to the server, not to an embedded store in the data dir.
    assert not settings.chroma_dir.exists()
    server = chromadb.HttpClient(host="127.0.0.1", port=settings.chroma_port)
    assert server.get_collection(settings.collection).count() == first.chunks_written
    store = ChunkStore(settings)

    second = ingest(settings, progress=False)
    assert len(second.unchanged) == 3 and second.chunks_written == 0

    index = KnowledgeIndex(settings)
    assert len(index) == first.chunks_written
    lexical = index.lexical_search("イノシシの捕獲", k=3)
    assert lexical and lexical[0][0].doc_id == "cases/sendai-kosen-wildlife-capture"
    dense = index.dense("神戸の飲食店と配達員を支援した連携事業", k=3)
    assert dense and dense[0][0].doc_id == "cases/kobe-uber-eats"
    assert 0 < dense[0][1] <= 1
    page_hit = index.dense("公民連携デスクの役割", k=5, where={"doc_id": "aomori/overview"})
    assert page_hit and all(c.doc_id == "aomori/overview" and c.page in (1, 2) for c, _ in page_hit)

    (settings.knowledge_dir / "cases" / "kobe-uber-eats.md").unlink()
    pruned = ingest(settings, prune=True, progress=False)
    assert pruned.pruned == ["cases/kobe-uber-eats"]
    index = KnowledgeIndex(settings)
    assert all(c.doc_id != "cases/kobe-uber-eats" for c in index.chunks.values())
    assert store.all_ids() == set(index.chunks)


def test_server_collections_are_isolated_by_name(server_settings: Settings) -> None:
    """Two collections on one server (e.g. two cities) never see each other's documents."""
    ingest(server_settings, server_settings.knowledge_dir / "cases", progress=False)
    other = server_settings.model_copy(update={"collection": server_settings.collection + "_other"})
    assert ChunkStore(other).documents() == {}
    assert len(KnowledgeIndex(other)) == 0
    assert set(ChunkStore(server_settings).documents()) == {"cases/kobe-uber-eats",
                                                            "cases/sendai-kosen-wildlife-capture"}
