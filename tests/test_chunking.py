"""Chunking: what a citation needs (section path, page) and what retrieval needs (whole sentences).

Chunk ids are content hashes: the same text gives the same id on every run, which is what makes
re-ingesting idempotent, and an edit changes only the ids of the chunks it touched.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from ingest.chunking import SECTION_SEP, Chunk, chunk_document
from ingest.loaders import LoadedDocument, discover, load
from ingest.normalize import compact, normalize

KNOWLEDGE = PROJECT_ROOT / "knowledge"

SENTENCES = [
    "公民連携デスクは事業者からの相談を一元的に受け付ける。",
    "相談は無料であり、事前の予約は必要ない。",
    "提案の内容に応じて担当課との対話の場を設ける。",
    "実証実験の場合は市内の実施場所の調整も支援する！",
    "提案が採用されるかどうかは担当課が判断する？",
    "判断の結果は書面で通知する。",
]


def _doc(text: str, fmt: str = "markdown", doc_id: str = "test/doc", **meta) -> LoadedDocument:
    return LoadedDocument(doc_id=doc_id, path=Path(f"{doc_id}.md"), fmt=fmt, text=text,
                          metadata={"title": "試験文書", "doc_type": "note", **meta})


def _long_paragraph(repeat: int = 6) -> str:
    return "".join(f"{s[:-1]}(第{i}項){s[-1]}" for i in range(repeat) for s in SENTENCES)


# --- structure: section path and page ---------------------------------------------------------


def _body(label: str) -> str:
    """A section body long enough (with max_chars=100) to stay a chunk of its own."""
    return f"{label}についての説明文です。" * 4


def _sections(text: str, fmt: str = "markdown") -> dict[str, str]:
    """First sentence of each chunk → its section path."""
    return {c.text.split("。")[0]: c.section for c in chunk_document(_doc(text, fmt=fmt), max_chars=100)}


def test_markdown_headings_give_the_section_path() -> None:
    text = (f"# 試験文書\n\n{_body('前文')}\n\n## 民間提案制度\n\n{_body('制度')}\n\n### 自由提案\n\n"
            f"{_body('自由提案')}\n\n## 実証実験\n\n{_body('実験')}\n")
    assert _sections(text) == {
        "前文についての説明文です": "",  # the title heading is not repeated in the path
        "制度についての説明文です": "民間提案制度",
        "自由提案についての説明文です": f"民間提案制度{SECTION_SEP}自由提案",
        "実験についての説明文です": "実証実験",  # a sibling heading closes the previous subsection
    }


def test_numbered_headings_in_text_give_the_section_path() -> None:
    text = f"1 背景\n{_body('背景')}\n(1) 公民連携の推進\n{_body('推進')}\n2 事業概要\n{_body('概要')}\n"
    assert _sections(text, fmt="text") == {
        "背景についての説明文です": "1 背景",
        "推進についての説明文です": f"1 背景{SECTION_SEP}(1) 公民連携の推進",
        "概要についての説明文です": "2 事業概要",
    }


def test_bundled_pdf_chunks_carry_pages_one_and_two() -> None:
    chunks = chunk_document(load(KNOWLEDGE / "aomori" / "overview.pdf", KNOWLEDGE))
    assert {c.page for c in chunks} == {1, 2}

    def holding(phrase: str) -> Chunk:
        return next(c for c in chunks if phrase in c.text)

    assert (holding("人口減少").page, holding("人口減少").section) == (1, "1 背景(ガイドライン P1-4)")
    assert (holding("コスト削減").page, holding("コスト削減").section) == (2, "5 市の課題に対する提案例")
    # Nested numbered headings 2 → (2) → ② all reach the retrievers with the passage.
    trial = holding("先端技術")
    assert trial.page == 1
    assert trial.section.startswith("2 事業概要")
    for heading in ("2 事業概要", "(2)民間提案制度の導入", "② 実証実験サポート事業"):
        assert heading in trial.context_text()


def test_headings_without_body_text_are_not_lost() -> None:
    """Section 4 of the overview PDF is a heading plus ①②③ items: all of it must be searchable."""
    chunks = chunk_document(load(KNOWLEDGE / "aomori" / "overview.pdf", KNOWLEDGE))
    section4 = [c for c in chunks if c.section == "4 事業担当課の役割(ガイドライン P8-11)"]
    assert len(section4) == 1
    assert section4[0].page == 2
    for item in ("① 行政課題の発掘", "② 連携事業の実施可否の検討", "③ 連携事業の実施"):
        assert item in section4[0].text


def test_empty_heading_keeps_the_page_it_was_on() -> None:
    text = "<!-- page: 1 -->\n1 背景\n<!-- page: 2 -->\n2 目的\n目的の説明。\n"
    chunks = chunk_document(_doc(text, fmt="text"))
    assert [(c.text, c.section, c.page) for c in chunks] == [("1 背景", "", 1), ("目的の説明。", "2 目的", 2)]


def test_page_markers_in_markdown_set_the_page() -> None:
    text = "## 背景\n<!-- page: 3 -->\n背景の説明。\n<!-- page: 4 -->\n続きの説明。\n"
    assert [(c.text, c.page) for c in chunk_document(_doc(text))] == [("背景の説明。", 3), ("続きの説明。", 4)]


@pytest.mark.parametrize("path", discover(KNOWLEDGE)[0], ids=lambda p: p.name)
def test_no_text_of_the_bundled_corpus_is_lost(path: Path) -> None:
    """Every line of every bundled document ends up in a chunk's text or its section path."""
    doc = load(path, KNOWLEDGE)
    chunks = chunk_document(doc)
    body = compact("".join(c.text for c in chunks))
    headings = {compact(h) for c in chunks for h in c.section.split(SECTION_SEP)} | {compact(doc.metadata["title"])}
    for line in normalize(doc.text).split("\n"):
        line = re.sub(r"<!--.*?-->", "", line).lstrip("#").strip()
        if line:
            assert compact(line) in body or compact(line) in headings, line


# --- sentence-boundary splitting and size ------------------------------------------------------


def test_long_paragraph_splits_only_at_sentence_ends_within_max_size() -> None:
    paragraph = _long_paragraph()
    chunks = chunk_document(_doc(f"## 相談\n\n{paragraph}\n"), max_chars=120)
    assert len(chunks) > 3
    for chunk in chunks:
        assert len(chunk.text) <= 120
        assert chunk.text[-1] in "。!?", chunk.text  # NFKC made ！？ half-width
    assert "".join(c.text for c in chunks) == normalize(paragraph)  # nothing dropped or duplicated


def test_default_chunks_of_the_bundled_corpus_respect_the_size_limit() -> None:
    for path in discover(KNOWLEDGE)[0]:
        for chunk in chunk_document(load(path, KNOWLEDGE)):
            sentences = re.split(r"(?<=[。！？!?])", chunk.text)
            # Only a single sentence longer than the limit may exceed it (it is never cut mid-word).
            assert len(chunk.text) <= 360 or len([s for s in sentences if s.strip()]) == 1, chunk.id


def test_over_long_sentence_stays_whole() -> None:
    sentence = "公民連携" * 60 + "。"  # 241 characters, no break opportunity
    chunks = chunk_document(_doc(sentence), max_chars=100)
    assert [c.text for c in chunks] == [sentence]


def test_paragraphs_are_preferred_split_points() -> None:
    first, second = "一つ目の段落の文。" * 8, "二つ目の段落の文。" * 8
    chunks = chunk_document(_doc(f"{first}\n\n{second}"), max_chars=100)
    assert [c.text for c in chunks] == [first, second]


# --- ids and metadata ---------------------------------------------------------------------------


def test_ids_are_stable_across_runs() -> None:
    doc = load(KNOWLEDGE / "aomori" / "guideline.md", KNOWLEDGE)
    first = [c.id for c in chunk_document(doc)]
    second = [c.id for c in chunk_document(load(KNOWLEDGE / "aomori" / "guideline.md", KNOWLEDGE))]
    assert first == second
    assert len(set(first)) == len(first)
    assert all(cid.startswith("aomori/guideline::") for cid in first)


def test_ids_are_content_derived_so_an_edit_changes_only_its_chunk() -> None:
    text = "## 一\n\n一つ目の説明。\n\n## 二\n\n二つ目の説明。\n\n## 三\n\n三つ目の説明。\n"
    before = {c.section: c.id for c in chunk_document(_doc(text))}
    after = {c.section: c.id for c in chunk_document(_doc(text.replace("二つ目の説明。", "二つ目の新しい説明。")))}
    assert before["一"] == after["一"] and before["三"] == after["三"]
    assert before["二"] != after["二"]
    # Inserting a section before others shifts positions but not ids.
    shifted = {c.section: c.id for c in chunk_document(_doc("## 零\n\n新しい節。\n\n" + text))}
    assert shifted["一"] == before["一"] and shifted["三"] == before["三"]


def test_same_text_in_another_document_gets_another_id() -> None:
    text = "## 節\n\n同じ本文。\n"
    a = chunk_document(_doc(text, doc_id="a"))[0]
    b = chunk_document(_doc(text, doc_id="b"))[0]
    assert a.hash != b.hash and a.id != b.id


def test_metadata_edit_changes_every_id() -> None:
    """Title and type travel with each chunk, so a front-matter fix must replace every chunk."""
    text = "## 一\n\n一つ目の説明。\n\n## 二\n\n二つ目の説明。\n"
    before = [c.id for c in chunk_document(_doc(text))]
    retitled = [c.id for c in chunk_document(_doc(text, title="改題した文書"))]
    retyped = [c.id for c in chunk_document(_doc(text, doc_type="guideline"))]
    assert len(before) == 2
    assert not set(before) & set(retitled) and not set(before) & set(retyped)


def test_repeated_identical_passages_get_distinct_ids() -> None:
    chunks = chunk_document(_doc("## 節\n\n同じ文。\n\n<!-- x -->\n\n## 別\n\n別の文。\n\n## 節\n\n同じ文。\n"))
    ids = [c.id for c in chunks]
    assert len(ids) == len(set(ids)) == 3
    assert ids[2] == ids[0] + "-1"


def test_chunk_metadata_has_every_citation_field() -> None:
    chunks = chunk_document(load(KNOWLEDGE / "aomori" / "overview.pdf", KNOWLEDGE))
    for position, chunk in enumerate(chunks):
        meta = chunk.metadata()
        assert {"doc_id", "title", "doc_type", "section", "page", "position", "hash"} <= meta.keys()
        assert meta["doc_id"] == "aomori/overview"
        assert meta["title"] == "青森市公民連携デスクの開設について"
        assert meta["doc_type"] == "overview"
        assert meta["position"] == position
        assert meta["page"] in (1, 2)
        assert re.fullmatch(r"[0-9a-f]{64}", meta["hash"])
        assert chunk.id == f"aomori/overview::{meta['hash'][:16]}"
        # Chroma accepts only scalar metadata values.
        assert all(isinstance(v, str | int | float | bool) for v in meta.values())


def test_metadata_without_pages_has_no_page_key() -> None:
    """Chroma rejects None values; a document without page markers simply has no page."""
    chunk = chunk_document(_doc("## 節\n\n本文。\n"))[0]
    assert chunk.page is None
    assert "page" not in chunk.metadata()


def test_context_text_prefixes_title_and_section() -> None:
    chunk: Chunk = chunk_document(_doc("## 民間提案制度\n\n提案は随時受け付ける。\n"))[0]
    assert chunk.context_text() == f"試験文書{SECTION_SEP}民間提案制度\n提案は随時受け付ける。"


def test_chunks_are_normalized_text() -> None:
    chunk = chunk_document(_doc("## 公⺠連携\n\n⻘森市の公⺠連携デスクは\n令和５年に開設された。\n"))[0]
    assert chunk.section == "公民連携"
    assert chunk.text == "青森市の公民連携デスクは令和5年に開設された。"
