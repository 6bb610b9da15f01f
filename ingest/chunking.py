"""Structure-aware chunking.

Headings (Markdown ``#`` lines, or numbered headings in PDF/plain text) become a section path;
``<!-- page: N -->`` markers give the page.  Text is split on paragraphs and sentence ends only —
never mid-word — into chunks well inside multilingual-e5's 512-token window.  Every chunk carries
what a citation needs: document, title, section path, page, position and a content hash.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.loaders import LoadedDocument
from ingest.normalize import normalize

PAGE_MARKER = re.compile(r"^<!--\s*page:\s*(\d+)\s*-->$")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")
# Numbered headings as they appear in PDFs and plain text: "1 背景", "(2) 民間提案制度の導入", "第3条 ..."
_TEXT_HEADING = re.compile(
    r"^(?:(\d{1,2})\s+|\((\d{1,2})\)\s*|第(\d+)[条章節]\s*|([\u2460-\u2473])\s*)(\S.{0,38})$"
)
SECTION_SEP = " > "
# Part of every chunk id: bump when what is stored with a chunk changes (v2: sentence units and
# their vectors), so a re-ingest rewrites chunks instead of keeping the old ones by id.
CHUNK_FORMAT = "v4"


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    text: str
    section: str
    page: int | None
    position: int
    hash: str
    doc_meta: dict = field(default_factory=dict, compare=False)

    @property
    def title(self) -> str:
        return str(self.doc_meta.get("title", self.doc_id))

    def context_text(self) -> str:
        """What the retrievers see: title and section give short passages their context."""
        head = SECTION_SEP.join(dict.fromkeys(p for p in (self.title, *self.section.split(SECTION_SEP)) if p))
        return f"{head}\n{self.text}"

    def metadata(self) -> dict:
        meta = {k: v for k, v in self.doc_meta.items() if k not in {"title"}}
        meta.update(doc_id=self.doc_id, title=self.title, section=self.section, position=self.position,
                    hash=self.hash)
        if self.page is not None:
            meta["page"] = self.page
        return meta


@dataclass
class _Block:
    path: tuple[str, ...]
    page: int | None
    paragraphs: list[str]


def _text_heading(line: str) -> tuple[int, str] | None:
    if "。" in line or len(line) > 42:
        return None
    match = _TEXT_HEADING.match(line)
    if not match:
        return None
    level = 2 if match.group(1) or match.group(3) else 3 if match.group(2) else 4
    return level, line


def _blocks(doc: LoadedDocument) -> list[_Block]:
    """Walk the normalized text and group paragraphs by (section path, page)."""
    title = normalize(str(doc.metadata.get("title", "")))
    markdown = doc.fmt in {"markdown", "docx", "html"}
    # (level, heading text, page it appeared on, whether any text was filed under it)
    stack: list[list] = []
    page: int | None = None
    blocks: list[_Block] = []
    para: list[str] = []

    def flush(at_page: int | None = None) -> None:
        if para:
            text = "\n".join(para).strip()
            # A level-1 heading that merely repeats the title does not repeat in every citation.
            path = tuple(h for lvl, h, _p, _u in stack if not (lvl == 1 and h == title))
            at = page if at_page is None else at_page
            if blocks and blocks[-1].path == path and blocks[-1].page == at:
                blocks[-1].paragraphs.append(text)
            else:
                blocks.append(_Block(path, at, [text]))
            para.clear()
            for entry in stack:
                entry[3] = True

    def close_sections(level: int) -> None:
        # A heading with nothing under it (a run of "① ..." items, a trailing heading) would
        # otherwise vanish from the index; it is filed as text of its parent section instead.
        while stack and stack[-1][0] >= level:
            lvl, text, at, used = stack.pop()
            if not used and not (lvl == 1 and text == title):
                para.append(text)
                flush(at)

    for raw in normalize(doc.text).split("\n"):
        line = raw.strip()
        marker = PAGE_MARKER.match(line)
        if marker:
            flush()
            page = int(marker.group(1))
            continue
        line = _COMMENT.sub("", line).strip()
        if not line:
            flush()
            continue
        heading = None
        md = _MD_HEADING.match(line)
        if md:
            heading = (len(md.group(1)), md.group(2).strip())
        elif not markdown:
            heading = _text_heading(line)
        if heading:
            flush()
            level, text = heading
            close_sections(level)
            stack.append([level, text, page, False])
            continue
        para.append(line)
    flush()
    close_sections(0)
    return blocks


def _common_prefix(paths: list[tuple[str, ...]]) -> tuple[str, ...]:
    prefix = paths[0]
    for path in paths[1:]:
        n = 0
        while n < min(len(prefix), len(path)) and prefix[n] == path[n]:
            n += 1
        prefix = prefix[:n]
    return prefix


def merge_small_sections(blocks: list[_Block], max_chars: int) -> list[_Block]:
    """Merge short neighbouring sections of one top-level section and page into one block.

    Slide decks and case sheets have many sub-sections of a line or two ("青森市の役割",
    "事業者等の役割"); alone they make chunks too small to retrieve well.  Merged, the common parent
    becomes the section path and each sub-section keeps its heading inline as 【見出し】.
    """
    groups: list[list[_Block]] = []
    for block in blocks:
        size = sum(len(p) for p in block.paragraphs)
        if groups and size <= max_chars:
            group = groups[-1]
            total = sum(len(p) + 8 for b in group for p in b.paragraphs) + size
            common = _common_prefix([b.path for b in group] + [block.path])
            if common and group[0].page == block.page and total <= max_chars:
                group.append(block)
                continue
        groups.append([block])
    merged = []
    for group in groups:
        if len(group) == 1:
            merged.append(group[0])
            continue
        common = _common_prefix([b.path for b in group])
        paragraphs = []
        for b in group:
            rel = b.path[len(common):]
            head = f"【{SECTION_SEP.join(rel)}】\n" if rel else ""
            paragraphs.append(head + "\n".join(b.paragraphs))
        merged.append(_Block(common, group[0].page, paragraphs))
    return merged


def _splitter(size: int) -> RecursiveCharacterTextSplitter:
    # No "" separator: an over-long sentence stays whole rather than being cut mid-word.
    return RecursiveCharacterTextSplitter(
        separators=["\n\n", "\n", "。", "！", "？", "!", "?"],
        keep_separator="end",
        chunk_size=size,
        chunk_overlap=0,
        strip_whitespace=True,
    )


def _content_hash(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()


def chunk_document(doc: LoadedDocument, max_chars: int = 360) -> list[Chunk]:
    """Split a loaded document into citable chunks (pure: same input, same ids)."""
    splitter = _splitter(max_chars)
    # Document metadata is stored with every chunk (title, type: the citation) and the title is part
    # of the embedded text, so a front-matter edit must give new ids, or the old chunks would be kept.
    meta_key = json.dumps(doc.metadata, sort_keys=True, ensure_ascii=False, default=str)
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for block in merge_small_sections(_blocks(doc), max_chars):
        section = SECTION_SEP.join(block.path)
        for piece in splitter.split_text("\n\n".join(block.paragraphs)):
            piece = piece.strip()
            if not piece:
                continue
            digest = _content_hash(CHUNK_FORMAT, doc.doc_id, meta_key, section, block.page, piece)
            n = seen.get(digest, 0)
            seen[digest] = n + 1
            chunk_id = f"{doc.doc_id}::{digest[:16]}" + (f"-{n}" if n else "")
            chunks.append(Chunk(id=chunk_id, doc_id=doc.doc_id, text=piece, section=section,
                                page=block.page, position=len(chunks), hash=digest,
                                doc_meta=doc.metadata))
    return chunks
