"""Loaders: turn a file into text with structure markers and metadata.

Every loader produces the same shape — Markdown-style text where headings are ``#`` lines and PDF
pages are announced by ``<!-- page: N -->`` markers — so that one chunker handles every format.
Bad input raises :class:`LoadError` with a one-line reason a person can act on.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import yaml

SUPPORTED = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".pdf": "pdf",
             ".docx": "docx", ".html": "html", ".htm": "html"}
# Files that live in knowledge/ but are configuration, not documents.
IGNORED_SUFFIXES = {".yaml", ".yml", ".py", ".json"}
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
# Document ids of files outside the knowledge dir live under this prefix (see ``doc_id_for``).
EXTERNAL_PREFIX = "ext/"
# Longest run of text without a line break or sentence end that reaches the chunker.  The chunker
# never cuts inside a sentence, so such a run becomes one chunk, and Sudachi refuses any text over
# 49,149 bytes; e5 would silently drop everything after its 512th token anyway.  1,000 characters
# (at most 3-4 KB) is far beyond any real sentence (the bundled corpus's longest is 224).
MAX_RUN_CHARS = 1000
_LONG_RUN = re.compile(rf"[^\n。！？!?]{{{MAX_RUN_CHARS + 1},}}")
# Where an over-long run may be broken: after a comma, closing bracket or space.
_SOFT_BREAK = re.compile(r"[、，,;；:：）)」』】\]\s]")


class LoadError(Exception):
    """A file that cannot be ingested; the message says why in one line."""


@dataclass(frozen=True)
class LoadLimits:
    """Bounds on one document, so that a hostile or mistaken file fails alone and fast.

    The values come from :class:`ingest.config.Settings` (the pipeline builds this); ``None`` means
    unbounded, for library callers that load one file they trust.
    """

    max_file_bytes: int | None = None
    max_pages: int | None = None


NO_LIMITS = LoadLimits()


def check_size(path: Path, limits: LoadLimits) -> int:
    """The file's size, or :class:`LoadError` when it exceeds the limit (checked before reading it)."""
    size = path.stat().st_size
    if limits.max_file_bytes is not None and size > limits.max_file_bytes:
        raise LoadError(f"file too large ({size / 1e6:.1f} MB > {limits.max_file_bytes / 1e6:g} MB, "
                        f"PPP_MAX_FILE_MB); split it or raise the limit")
    return size


@dataclass
class LoadedDocument:
    doc_id: str
    path: Path
    fmt: str
    text: str
    metadata: dict = field(default_factory=dict)


def located(path: Path) -> Path:
    """Absolute path with its directories resolved but not the file: a symlinked document keeps its name."""
    return path.parent.resolve() / path.name


def doc_id_for(path: Path, root: Path) -> str:
    """Stable document id: the path under the knowledge root, without its suffix.

    A file outside the root gets ``ext/<folder>-<hash of the folder's absolute path>/<name>``: the
    bare name would let ``/tmp/a/good.md`` and ``/tmp/b/good.md`` (or a knowledge document of the
    same name) replace each other.  The id depends only on where the file is, not on which folder
    was passed to ``ingest``, so ``ingest /tmp/a`` and ``ingest /tmp/a/good.md`` agree.
    """
    here = located(path)
    try:
        return here.relative_to(root.resolve()).with_suffix("").as_posix()
    except ValueError:
        folder = here.parent
        digest = hashlib.sha256(str(folder).encode("utf-8", "surrogateescape")).hexdigest()[:10]
        return f"{EXTERNAL_PREFIX}{folder.name or 'root'}-{digest}/{Path(path.name).with_suffix('').as_posix()}"


def _clean_meta(meta: dict) -> dict:
    """Front matter values as plain strings/numbers (Chroma metadata accepts nothing else)."""
    out = {}
    for key, value in meta.items():
        if value is None:
            continue
        if isinstance(value, date | datetime):
            value = value.isoformat()[:10]
        elif isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value)
        elif not isinstance(value, str | int | float | bool):
            value = str(value)
        out[str(key)] = value
    return out


class _FrontMatterLoader(yaml.SafeLoader):
    """Safe YAML without aliases.

    Aliases (``*name``, also behind ``<<:`` merge keys) let a few hundred bytes expand into
    gigabytes once the values are flattened to text (the "billion laughs"); front matter is a few
    plain ``key: value`` lines and never needs them.
    """

    def compose_node(self, parent, index):  # noqa: ANN001, ANN201 - PyYAML's signature
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # line + 2: the front matter starts on the file's second line
            raise LoadError(f"front matter uses a YAML alias (*{event.anchor}, line {event.start_mark.line + 2}); "
                            f"aliases are not allowed, write the value out")
        return super().compose_node(parent, index)


def split_front_matter(text: str) -> tuple[dict, str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    loader = _FrontMatterLoader(match.group(1))
    try:
        meta = loader.get_single_data() or {}
    except yaml.YAMLError as exc:
        raise LoadError(f"front matter is not valid YAML ({exc.__class__.__name__})") from exc
    finally:
        loader.dispose()
    if not isinstance(meta, dict):
        raise LoadError("front matter is not a key: value mapping")
    return _clean_meta(meta), text[match.end():]


# Encodings older Japanese municipal files are saved in, tried when strict UTF-8 fails.
JAPANESE_ENCODINGS = ("cp932", "euc_jp")
_HIRAGANA = re.compile(r"[\u3041-\u309f]")
_HALFWIDTH_KANA = re.compile(r"[\uff61-\uff9f]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _plausible_japanese(text: str) -> bool:
    """Whether a legacy decode looks like Japanese prose rather than mojibake.

    CP932 and EUC-JP overlap: EUC-JP bytes decode as CP932 without error, but as half-width
    katakana and rare kanji and never as hiragana, which real prose is full of.
    """
    if _CONTROL.search(text):
        return False
    hiragana = len(_HIRAGANA.findall(text))
    return hiragana > 0 and hiragana >= len(_HALFWIDTH_KANA.findall(text))


def decode_text(raw: bytes) -> str:
    """UTF-8 (a BOM is dropped), else CP932/Shift_JIS or EUC-JP when that decodes cleanly."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise LoadError(f"not valid UTF-16 text (byte {exc.start})") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    for encoding in JAPANESE_ENCODINGS:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _plausible_japanese(text):
            return text
    raise LoadError(f"not UTF-8 text (byte {first_bad}), nor Shift_JIS/CP932 or EUC-JP; save it as UTF-8")


def _read_text(path: Path) -> str:
    return decode_text(path.read_bytes())


def load_markdown(path: Path) -> tuple[str, dict]:
    meta, body = split_front_matter(_read_text(path))
    return body, meta


def load_text(path: Path) -> tuple[str, dict]:
    meta, body = split_front_matter(_read_text(path))
    return body, meta


def _pdf_keywords(raw: str | None) -> dict:
    """Parse ``key=value; key=value`` pairs that our PDFs carry in their Keywords field."""
    meta = {}
    for part in (raw or "").split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            meta[key.strip()] = value.strip()
    return meta


def load_pdf(path: Path, limits: LoadLimits = NO_LIMITS) -> tuple[str, dict]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception as exc:  # noqa: BLE001 - pypdf raises several types here
                raise LoadError("encrypted PDF (password required)") from exc
            if not ok:
                raise LoadError("encrypted PDF (password required)")
        count = len(reader.pages)
        if limits.max_pages is not None and count > limits.max_pages:
            raise LoadError(f"too many pages ({count} > {limits.max_pages}, PPP_MAX_PAGES); "
                            f"split the PDF or raise the limit")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata or {}
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(f"corrupt or unreadable PDF ({exc.__class__.__name__})") from exc
    except Exception as exc:  # noqa: BLE001 - a damaged PDF can fail anywhere inside pypdf
        raise LoadError(f"corrupt PDF ({exc.__class__.__name__})") from exc
    if not pages:
        raise LoadError("empty PDF (no pages)")
    if not any(p.strip() for p in pages):
        raise LoadError(f"no text layer (image-only or scanned PDF, {len(pages)} pages); OCR it first")
    meta = _pdf_keywords(info.get("/Keywords"))
    if info.get("/Title"):
        meta["title"] = str(info["/Title"])
    if info.get("/Author"):
        meta.setdefault("issuer", str(info["/Author"]))
    text = "\n".join(f"<!-- page: {n} -->\n{t}" for n, t in enumerate(pages, start=1))
    return text, meta


def load_docx(path: Path) -> tuple[str, dict]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise LoadError(f"corrupt or unreadable DOCX ({exc.__class__.__name__})") from exc
    except Exception as exc:  # noqa: BLE001 - zipfile.BadZipFile and friends
        raise LoadError(f"corrupt DOCX ({exc.__class__.__name__})") from exc
    lines = []
    for para in document.paragraphs:
        style = (para.style.name if para.style is not None else "") or ""
        text = para.text.strip()
        if not text:
            lines.append("")
            continue
        level = re.match(r"Heading (\d)", style)
        if level or style == "Title":
            depth = int(level.group(1)) if level else 1
            lines.append(f"{'#' * min(depth, 6)} {text}")
        else:
            lines.append(text)
    for table in document.tables:
        for row in table.rows:
            lines.append("| " + " | ".join(cell.text.strip() for cell in row.cells) + " |")
    props = document.core_properties
    meta = _clean_meta({"title": props.title or None, "issuer": props.author or None,
                        "published": props.created.date() if props.created else None})
    meta.update(_pdf_keywords(props.keywords))
    return "\n".join(lines), meta


def load_html(path: Path) -> tuple[str, dict]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_read_text(path), "html.parser")
    for tag in soup(["script", "style", "nav", "footer", "header", "noscript"]):
        tag.decompose()
    meta = {}
    if soup.title and soup.title.string:
        meta["title"] = soup.title.string.strip()
    for tag in soup.find_all("meta"):
        name, content = tag.get("name"), tag.get("content")
        if name and content and name in {"doc_type", "issuer", "published", "source", "city"}:
            meta[name] = content
    lines = []
    body = soup.body or soup
    for el in body.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "tr"]):
        text = " ".join(el.get_text(" ", strip=True).split())
        if not text:
            continue
        if el.name.startswith("h"):
            lines.append(f"\n{'#' * int(el.name[1])} {text}")
        elif el.name == "li":
            lines.append(f"- {text}")
        else:
            lines.append(text)
    return "\n".join(lines), meta


_LOADERS = {"markdown": load_markdown, "text": load_text, "pdf": load_pdf, "docx": load_docx,
            "html": load_html}


def _first_heading(text: str) -> str | None:
    match = re.search(r"^#\s+(.+)$", text, re.M)
    return match.group(1).strip() if match else None


def _break_run(run: str) -> str:
    """Break one over-long run into pieces of at most ``MAX_RUN_CHARS``, after a comma or space if any."""
    pieces = []
    while len(run) > MAX_RUN_CHARS:
        window = run[MAX_RUN_CHARS // 2:MAX_RUN_CHARS]
        soft = [m.end() for m in _SOFT_BREAK.finditer(window)]
        cut = MAX_RUN_CHARS // 2 + soft[-1] if soft else MAX_RUN_CHARS
        pieces.append(run[:cut])
        run = run[cut:]
    pieces.append(run)
    # A blank line, not a line break: normalization joins lines broken between two CJK characters
    # (PDF extraction breaks lines mid-sentence), which would glue the run back together.
    return "\n\n".join(pieces)


def break_long_runs(text: str) -> str:
    """Break runs with no line break or sentence end longer than ``MAX_RUN_CHARS`` into paragraphs.

    One unpunctuated 50 KB paragraph otherwise became a single chunk that crashed Sudachi; broken
    up, the chunker splits it like any other text and the file ingests.
    """
    return _LONG_RUN.sub(lambda m: _break_run(m.group(0)), text)


def load(path: Path, root: Path, limits: LoadLimits = NO_LIMITS) -> LoadedDocument:
    """Load one file; raises :class:`LoadError` naming the reason when it cannot be used."""
    fmt = SUPPORTED.get(path.suffix.lower())
    if fmt is None:
        raise LoadError(f"unsupported file type '{path.suffix or path.name}'")
    try:
        if check_size(path, limits) == 0:
            raise LoadError("empty file")
        text, meta = load_pdf(path, limits) if fmt == "pdf" else _LOADERS[fmt](path)
    except PermissionError as exc:
        raise LoadError("cannot read file (permission denied)") from exc
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise LoadError(f"cannot read file ({exc.strerror})") from exc
    if not text.strip() or not re.search(r"\w", re.sub(r"<!--.*?-->", "", text)):
        raise LoadError("no text content")
    text = break_long_runs(text)
    meta.setdefault("title", _first_heading(text) or path.stem)
    meta.setdefault("doc_type", "document")
    return LoadedDocument(doc_id=doc_id_for(path, root), path=path, fmt=fmt, text=text, metadata=meta)


@dataclass
class Discovery:
    """What a walk of an ingested folder found.

    ``refused`` are entries that must not be read, each with its reason (links that leave the
    folder or point at hidden files); ``hidden`` are dotfiles and dot-folders, skipped unread.
    """

    documents: list[Path] = field(default_factory=list)
    config: list[Path] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)
    hidden: list[tuple[Path, str]] = field(default_factory=list)


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _link_refusal(path: Path, root: Path) -> str | None:
    """Why a symlink under ``root`` (resolved) must not be followed, or None when it may be."""
    target = Path(os.path.realpath(path))
    try:
        rel = target.relative_to(root)
    except ValueError:
        return f"symbolic link leaves the ingested folder (-> {target}); not followed"
    if _hidden(rel):
        return f"symbolic link to a hidden file (-> {target}); not followed"
    return None


def scan(root: Path) -> Discovery:
    """Walk ``root`` without leaving it: no links out of the tree, no dotfiles.

    A link in a shared folder pointing at ``../.env`` once put ``SLACK_BOT_TOKEN`` into answers.
    Symlinked folders are not entered (a link inside the tree is walked from where it really is,
    and a loop cannot form); a file link is followed only when its target stays inside ``root``
    and is not hidden.  Broken links are kept so that the run names them as unreadable instead of
    silently dropping them (and letting --prune delete what the store holds for them).
    FIFOs, sockets and devices are refused: reading one would block the run.  A single file given
    as ``root`` is returned as is: the operator named it.
    """
    found = Discovery()
    if root.is_file():
        found.documents.append(root)
        return found
    real_root = root.resolve()

    def walk(folder: Path) -> None:
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                path = folder / entry.name
                if entry.name.startswith("."):
                    kind = "folder" if entry.is_dir() else "file"
                    found.hidden.append((path, f"hidden {kind}, skipped"))
                    continue
                if entry.is_symlink():
                    reason = _link_refusal(path, real_root)
                    if reason:
                        found.refused.append((path, reason))
                        continue
                    if entry.is_dir():
                        continue  # its files are walked where they really are, inside the tree
                elif entry.is_dir():
                    walk(path)
                    continue
                if os.path.exists(path) and not entry.is_file():
                    # Reading a FIFO blocks the run forever; a device never ends.
                    found.refused.append((path, "not a regular file (FIFO, socket or device); not read"))
                    continue
                (found.config if path.suffix.lower() in IGNORED_SUFFIXES else found.documents).append(path)

    walk(root)
    return found


def discover(root: Path) -> tuple[list[Path], list[Path]]:
    """Walk ``root`` recursively: (candidate documents, files skipped as configuration)."""
    found = scan(root)
    return found.documents, found.config
