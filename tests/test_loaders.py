"""Loaders on real files: every supported format, and every kind of bad input the desk will meet.

Bad input must surface as :class:`LoadError` with a reason a person can act on, never as a
traceback from deep inside pypdf or python-docx.
"""

from __future__ import annotations

import os
from pathlib import Path

import _docs
import pytest

from bot.config import PROJECT_ROOT
from ingest.chunking import chunk_document
from ingest.lexical import tokenize
from ingest.loaders import MAX_RUN_CHARS, LoadError, LoadLimits, discover, doc_id_for, load, scan

KNOWLEDGE = PROJECT_ROOT / "knowledge"
OVERVIEW = KNOWLEDGE / "aomori" / "overview.pdf"


# --- Markdown and plain text ------------------------------------------------------------------


def test_markdown_front_matter_becomes_metadata(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text(
        "---\ntitle: 事前相談の案内\ndoc_type: guide\npublished: 2024-04-01\ntags: [相談, 窓口]\n"
        "year: 2024\nempty:\n---\n\n# 見出し\n\n本文。\n",
        "utf-8",
    )
    doc = load(path, tmp_path)
    assert doc.fmt == "markdown"
    assert doc.doc_id == "note"
    assert doc.metadata["title"] == "事前相談の案内"
    assert doc.metadata["doc_type"] == "guide"
    assert doc.metadata["published"] == "2024-04-01"  # a YAML date, stored as ISO text
    assert doc.metadata["tags"] == "相談, 窓口"  # lists flattened for Chroma metadata
    assert doc.metadata["year"] == 2024
    assert "empty" not in doc.metadata
    assert "---" not in doc.text and "title:" not in doc.text
    assert "# 見出し" in doc.text


def test_markdown_without_front_matter_takes_title_from_first_heading(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "plain.md"
    path.parent.mkdir()
    path.write_text("前置き。\n\n# 公民連携の手引き\n\n本文。\n", "utf-8")
    doc = load(path, tmp_path)
    assert doc.doc_id == "sub/plain"
    assert doc.metadata["title"] == "公民連携の手引き"
    assert doc.metadata["doc_type"] == "document"


def test_text_file_with_front_matter_and_no_heading_uses_stem_or_title(tmp_path: Path) -> None:
    path = tmp_path / "memo.txt"
    path.write_text("---\ndoc_type: memo\n---\n民間提案は随時受け付ける。\n", "utf-8")
    doc = load(path, tmp_path)
    assert doc.fmt == "text"
    assert doc.metadata == {"doc_type": "memo", "title": "memo"}
    assert doc.text.strip() == "民間提案は随時受け付ける。"


def test_invalid_front_matter_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.md"
    path.write_text("---\ntitle: [unclosed\n---\n本文。\n", "utf-8")
    with pytest.raises(LoadError, match="front matter is not valid YAML"):
        load(path, tmp_path)


BOMB = "---\na: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
) + "title: boom\n---\n本文。\n"


def test_front_matter_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    """359 bytes that expand to 9^9 values once flattened took 48 s and 2.5 GB; aliases are refused."""
    import time

    path = tmp_path / "bomb.md"
    path.write_text(BOMB, "utf-8")
    assert len(path.read_bytes()) < 512
    started = time.perf_counter()
    with pytest.raises(LoadError, match=r"^front matter uses a YAML alias \(\*a, line 3\); aliases are not allowed"):
        load(path, tmp_path)
    assert time.perf_counter() - started < 1.0
    merge = tmp_path / "merge.md"
    merge.write_text("---\nbase: &b {doc_type: guide}\nother:\n  <<: *b\n---\n本文。\n", "utf-8")
    with pytest.raises(LoadError, match="YAML alias"):
        load(merge, tmp_path)


def test_front_matter_that_is_not_a_mapping_is_named(tmp_path: Path) -> None:
    path = tmp_path / "list.md"
    path.write_text("---\n- a\n- b\n---\n本文。\n", "utf-8")
    with pytest.raises(LoadError, match="not a key: value mapping"):
        load(path, tmp_path)


def test_bundled_markdown_loads_with_its_metadata() -> None:
    doc = load(KNOWLEDGE / "aomori" / "guideline.md", KNOWLEDGE)
    assert doc.doc_id == "aomori/guideline"
    assert doc.metadata["title"] == "青森市公民連携デスクガイドライン"
    assert doc.metadata["doc_type"] == "guideline"
    assert "<!-- page: 1 -->" in doc.text


def test_one_long_unpunctuated_paragraph_is_split_so_the_tokenizer_takes_it(tmp_path: Path) -> None:
    """Over 49,149 bytes with no 。 or line break made one chunk that Sudachi refused."""
    path = tmp_path / "wall.md"
    soft = "青森市公民連携デスクへの相談記録、" * 2000  # commas only
    hard = "公民連携" * 5000  # no break point at all
    path.write_text(f"# 記録\n\n{soft}\n\n{hard}\n", "utf-8")
    assert len(soft.encode()) > 49_149 and len(hard.encode()) > 49_149
    chunks = chunk_document(load(path, tmp_path))
    assert max(len(c.text) for c in chunks) <= MAX_RUN_CHARS
    assert "".join(c.text.replace("\n", "") for c in chunks) == soft + hard  # nothing lost
    assert all(c.text.endswith("、") for c in chunks if c.text.startswith("青森市"))  # cut after commas
    for chunk in chunks:
        assert tokenize(chunk.context_text())


# --- limits ----------------------------------------------------------------------------------------


def test_file_over_the_size_limit_is_named_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "export.md"
    path.write_text("# 大きな書き出し\n\n" + "本文。" * 1000, "utf-8")
    with pytest.raises(LoadError, match=r"^file too large \(0\.0 MB > 0\.001 MB, PPP_MAX_FILE_MB\)"):
        load(path, tmp_path, LoadLimits(max_file_bytes=1000))
    assert load(path, tmp_path, LoadLimits(max_file_bytes=100_000)).text


def test_pdf_over_the_page_limit_is_named(tmp_path: Path) -> None:
    path = _docs.text_pdf(tmp_path / "long.pdf", [["一ページ目。"], ["二ページ目。"], ["三ページ目。"]])
    with pytest.raises(LoadError, match=r"^too many pages \(3 > 2, PPP_MAX_PAGES\); split the PDF"):
        load(path, tmp_path, LoadLimits(max_pages=2))
    assert "三ページ目" in load(path, tmp_path, LoadLimits(max_pages=3)).text


# --- PDF ----------------------------------------------------------------------------------------


def test_bundled_pdf_has_japanese_text_page_markers_and_info_metadata() -> None:
    doc = load(OVERVIEW, KNOWLEDGE)
    assert doc.fmt == "pdf"
    assert doc.doc_id == "aomori/overview"
    assert doc.text.startswith("<!-- page: 1 -->")
    assert doc.text.count("<!-- page:") == 2
    page1, page2 = doc.text.split("<!-- page: 2 -->")
    assert "背景" in page1 and "公民連携" in page1
    assert "<!-- page: 1 -->" in page1
    assert page2.strip()
    assert doc.metadata["title"] == "青森市公民連携デスクの開設について"
    assert doc.metadata["doc_type"] == "overview"  # from the Keywords field
    assert doc.metadata["published"] == "2023-07-25"
    assert doc.metadata["issuer"] == "青森市 企画部 連携推進課"


def test_generated_text_pdf_loads_page_by_page(tmp_path: Path) -> None:
    path = _docs.text_pdf(tmp_path / "two.pdf", [["一ページ目の本文。"], ["二ページ目の本文。"]], title="試験文書")
    doc = load(path, tmp_path)
    assert doc.metadata["title"] == "試験文書"
    first, second = doc.text.split("<!-- page: 2 -->")
    assert "一ページ目" in first and "二ページ目" not in first
    assert "二ページ目" in second


def test_encrypted_pdf_is_named(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"^encrypted PDF \(password required\)$"):
        load(_docs.encrypted_pdf(tmp_path / "locked.pdf"), tmp_path)


def test_pdf_encrypted_with_empty_user_password_still_loads(tmp_path: Path) -> None:
    """Owner-password-only PDFs (print/copy restrictions) open without a password in any viewer."""
    from pypdf import PdfWriter

    plain = _docs.text_pdf(tmp_path / "plain.pdf", [["閲覧制限のみの文書。"]])
    writer = PdfWriter(clone_from=str(plain))
    writer.encrypt(user_password="", owner_password="owner")
    writer.write(str(tmp_path / "restricted.pdf"))
    assert "閲覧制限のみの文書" in load(tmp_path / "restricted.pdf", tmp_path).text


@pytest.mark.parametrize("maker", [_docs.truncated_pdf, _docs.garbage_pdf], ids=["truncated", "garbage"])
def test_corrupt_pdf_is_named(tmp_path: Path, maker) -> None:
    with pytest.raises(LoadError, match=r"corrupt"):
        load(maker(tmp_path / "broken.pdf"), tmp_path)


def test_empty_pdf_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"^empty file$"):
        load(_docs.empty_file(tmp_path / "zero.pdf"), tmp_path)


def test_image_only_pdf_is_named_with_ocr_hint(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"no text layer .*2 pages.*OCR"):
        load(_docs.image_only_pdf(tmp_path / "scan.pdf", pages=2), tmp_path)


# --- DOCX ----------------------------------------------------------------------------------------


def test_docx_headings_become_section_path(tmp_path: Path) -> None:
    doc = load(_docs.docx_file(tmp_path / "guide.docx"), tmp_path)
    assert doc.fmt == "docx"
    assert doc.metadata["title"] == "実証実験サポート事業の手引き"
    assert doc.metadata["issuer"] == "青森市 企画部 連携推進課"
    assert doc.metadata["doc_type"] == "guide"  # from the Keywords property
    assert "# 申請の流れ" in doc.text.split("\n")
    assert "## 必要書類" in doc.text.split("\n")
    assert "| 提案書 | 様式第1号 |" in doc.text

    sections = {c.text.split("。")[0]: c.section for c in chunk_document(doc)}
    assert sections["事業者は担当課と事前に相談する"] == "申請の流れ"
    assert sections["提案書と事業計画書を提出する"] == "申請の流れ > 必要書類"
    assert sections["審査の結果は書面で通知する"] == "審査"


def test_corrupt_docx_is_named(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    with pytest.raises(LoadError, match=r"corrupt .*DOCX"):
        load(path, tmp_path)


# --- HTML ----------------------------------------------------------------------------------------


def test_html_keeps_headings_paragraphs_and_list_items_and_drops_scripts(tmp_path: Path) -> None:
    doc = load(_docs.html_file(tmp_path / "portal.html"), tmp_path)
    lines = [line for line in doc.text.split("\n") if line]
    assert lines == [
        "# 公民連携ポータル",
        "公民連携に関する情報を一元的に発信する。",
        "## 相談窓口",
        "事前相談は随時受け付ける。",
        "- 電話での相談",
        "- メールでの相談",
    ]
    for hidden in ("SCRIPT_SHOULD_NOT_APPEAR", "NAV_SHOULD_NOT_APPEAR", "FOOTER_SHOULD_NOT_APPEAR", "color"):
        assert hidden not in doc.text
    assert doc.metadata == {"title": "公民連携ポータル", "doc_type": "portal", "city": "青森市"}

    # The h1 repeats the title, so it is left out of the section path.
    sections = {c.text: c.section for c in chunk_document(doc)}
    assert sections["公民連携に関する情報を一元的に発信する。"] == ""
    assert sections["事前相談は随時受け付ける。\n- 電話での相談\n- メールでの相談"] == "相談窓口"


# --- files that are not documents or cannot be read ---------------------------------------------


@pytest.mark.parametrize("name", ["budget.xlsx", "scan.tiff", "README"])
def test_unknown_file_type_is_named(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"data")
    with pytest.raises(LoadError, match=r"^unsupported file type '"):
        load(path, tmp_path)


def test_shift_jis_and_euc_jp_files_are_decoded(tmp_path: Path) -> None:
    """Old municipal files in CP932/EUC-JP load as text instead of being refused as "not UTF-8"."""
    sjis = _docs.shift_jis_text(tmp_path / "old.txt")
    assert load(sjis, tmp_path).text == "青森市の公民連携デスクについて。"
    md = tmp_path / "memo.md"
    md.write_bytes("---\ntitle: 旧様式の案内\n---\n\n# 旧様式\n\n提案書はｶﾀｶﾅ混じりでも受け付ける。\n"
                   .encode("cp932"))
    doc = load(md, tmp_path)
    assert doc.metadata["title"] == "旧様式の案内" and "提案書はｶﾀｶﾅ混じりでも受け付ける。" in doc.text
    euc = tmp_path / "old.html"
    euc.write_bytes("<p>事前相談は随時受け付けます。</p>".encode("euc_jp"))
    assert load(euc, tmp_path).text == "事前相談は随時受け付けます。"


def test_utf8_bom_does_not_hide_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "bom.md"
    path.write_bytes("\ufeff---\ntitle: 窓口案内\n---\n本文です。\n".encode())
    assert load(path, tmp_path).metadata["title"] == "窓口案内"


def test_text_in_no_known_encoding_is_named_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"^not UTF-8 text \(byte 3\), nor Shift_JIS/CP932 or EUC-JP; save it as UTF-8$"):
        load(_docs.latin1_text(tmp_path / "old.txt"), tmp_path)
    path = tmp_path / "old.html"
    path.write_bytes(b"<p>caf\xe9</p>")
    with pytest.raises(LoadError, match="not UTF-8"):
        load(path, tmp_path)


@pytest.mark.parametrize("content", ["", "   \n\n\t\n", "---\ntitle: x\n---\n\n", "<!-- page: 1 -->\n"])
def test_file_without_text_is_named(tmp_path: Path, content: str) -> None:
    path = tmp_path / "blank.md"
    path.write_text(content, "utf-8")
    with pytest.raises(LoadError, match=r"^(empty file|no text content)$"):
        load(path, tmp_path)


def test_broken_symlink_is_unreadable(tmp_path: Path) -> None:
    """Works for root too, unlike chmod 000."""
    with pytest.raises(LoadError, match=r"^cannot read file \(No such file or directory\)$"):
        load(_docs.broken_symlink(tmp_path / "moved.md"), tmp_path)


def test_directory_with_a_document_suffix_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "folder.md").mkdir()
    with pytest.raises(LoadError, match=r"^cannot read file \(Is a directory\)$"):
        load(tmp_path / "folder.md", tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="running as root: chmod 000 does not stop root from reading "
                           "(unreadability is covered by the broken-symlink and directory cases)")
def test_file_without_read_permission_is_named(tmp_path: Path) -> None:
    path = tmp_path / "secret.md"
    path.write_text("# 秘密\n\n本文。\n", "utf-8")
    path.chmod(0)
    try:
        with pytest.raises(LoadError, match=r"^cannot read file \(permission denied\)$"):
            load(path, tmp_path)
    finally:
        path.chmod(0o644)


# --- discovery and ids ---------------------------------------------------------------------------


def test_discover_lists_documents_skips_config_and_hidden_and_keeps_broken_links(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n", "utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.pdf").write_bytes(b"%PDF")
    (tmp_path / "sub" / "c.xyz").write_bytes(b"?")
    (tmp_path / "city.yaml").write_text("x: 1\n", "utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD.md").write_text("x", "utf-8")
    (tmp_path / ".draft.md").write_text("x", "utf-8")
    (tmp_path / "folder.md").mkdir()
    _docs.broken_symlink(tmp_path / "link.md")

    docs, skipped = discover(tmp_path)
    rel = [p.relative_to(tmp_path).as_posix() for p in docs]
    assert rel == ["a.md", "link.md", "sub/b.pdf", "sub/c.xyz"]  # unknown types are reported later
    assert [p.name for p in skipped] == ["city.yaml"]


def test_discover_of_a_single_file_returns_it(tmp_path: Path) -> None:
    path = tmp_path / "one.md"
    path.write_text("# one\n", "utf-8")
    assert discover(path) == ([path], [])


def test_doc_id_is_the_relative_path_without_suffix_and_keeps_symlink_names(tmp_path: Path) -> None:
    (tmp_path / "cases").mkdir()
    target = tmp_path / "elsewhere.md"
    target.write_text("# x\n", "utf-8")
    link = tmp_path / "cases" / "linked.md"
    link.symlink_to(target)
    assert doc_id_for(tmp_path / "cases" / "kobe.md", tmp_path) == "cases/kobe"
    assert doc_id_for(link, tmp_path) == "cases/linked"


def test_files_outside_the_root_get_ids_that_never_collide(tmp_path: Path) -> None:
    """Bare names let /tmp/a/good.md and /tmp/b/good.md (or knowledge/good.md) replace each other."""
    root = tmp_path / "knowledge"
    a, b = doc_id_for(tmp_path / "a" / "good.md", root), doc_id_for(tmp_path / "b" / "good.md", root)
    assert a != b and a.startswith("ext/a-") and a.endswith("/good") and b.startswith("ext/b-")
    assert doc_id_for(root / "good.md", root) == "good"
    # The same file gets the same id whichever folder was ingested.
    assert doc_id_for(tmp_path / "a" / "." / "good.md", root) == a


def test_scan_does_not_follow_links_out_of_the_folder_and_names_hidden_entries(tmp_path: Path) -> None:
    outside = tmp_path / "project"
    outside.mkdir()
    (outside / ".env").write_text("SLACK_BOT_TOKEN=xoxb-secret\n", "utf-8")
    (outside / "notes.md").write_text("# 外部メモ\n", "utf-8")
    root = tmp_path / "knowledge"
    (root / "cases").mkdir(parents=True)
    (root / "cases" / "real.md").write_text("# 事例\n", "utf-8")
    (root / "cases" / "env.md").symlink_to(outside / ".env")
    (root / "notes.md").symlink_to(outside / "notes.md")
    (root / "linked-dir").symlink_to(outside, target_is_directory=True)
    (root / "alias.md").symlink_to(root / "cases" / "real.md")  # stays inside: followed
    (root / ".hidden.md").write_text("# 下書き\n", "utf-8")
    (root / "peek.md").symlink_to(root / ".hidden.md")  # inside, but to a hidden file
    (root / ".git").mkdir()
    (root / ".git" / "HEAD.md").write_text("x", "utf-8")
    os.mkfifo(outside / "pipe")
    (root / "pipe.md").symlink_to(outside / "pipe")
    os.mkfifo(root / "fifo.md")  # opening it to read would block the run forever

    found = scan(root)
    assert [p.relative_to(root).as_posix() for p in found.documents] == ["alias.md", "cases/real.md"]
    refused = {p.relative_to(root).as_posix(): reason for p, reason in found.refused}
    assert set(refused) == {"cases/env.md", "notes.md", "linked-dir", "peek.md", "pipe.md", "fifo.md"}
    assert refused["fifo.md"] == "not a regular file (FIFO, socket or device); not read"
    assert refused["cases/env.md"] == f"symbolic link leaves the ingested folder (-> {outside / '.env'}); not followed"
    assert refused["peek.md"].startswith("symbolic link to a hidden file")
    assert {p.name: reason for p, reason in found.hidden} == {
        ".hidden.md": "hidden file, skipped", ".git": "hidden folder, skipped"}
