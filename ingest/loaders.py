"""Loaders: turn a file into text with structure markers and metadata.

Every loader produces the same shape — Markdown-style text where headings are ``#`` lines and PDF
pages are announced by ``<!-- page: N -->`` markers — so that one chunker handles every format.
Bad input raises :class:`LoadError` with a one-line reason a person can act on.
"""

from __future__ import annotations

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


class LoadError(Exception):
    """A file that cannot be ingested; the message says why in one line."""


@dataclass
class LoadedDocument:
    doc_id: str
    path: Path
    fmt: str
    text: str
    metadata: dict = field(default_factory=dict)


def doc_id_for(path: Path, root: Path) -> str:
    """Stable document id: the path under the knowledge root, without its suffix."""
    try:
        # Resolve the directories but not the file: a symlinked document keeps its own name.
        rel = (path.parent.resolve() / path.name).relative_to(root.resolve())
    except ValueError:
        rel = Path(path.name)
    return rel.with_suffix("").as_posix()


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


def split_front_matter(text: str) -> tuple[dict, str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise LoadError(f"front matter is not valid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(meta, dict):
        raise LoadError("front matter is not a key: value mapping")
    return _clean_meta(meta), text[match.end():]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError(f"not UTF-8 text (byte {exc.start})") from exc


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


def load_pdf(path: Path) -> tuple[str, dict]:
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


def load(path: Path, root: Path) -> LoadedDocument:
    """Load one file; raises :class:`LoadError` naming the reason when it cannot be used."""
    fmt = SUPPORTED.get(path.suffix.lower())
    if fmt is None:
        raise LoadError(f"unsupported file type '{path.suffix or path.name}'")
    try:
        if path.stat().st_size == 0:
            raise LoadError("empty file")
        text, meta = _LOADERS[fmt](path)
    except PermissionError as exc:
        raise LoadError("cannot read file (permission denied)") from exc
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise LoadError(f"cannot read file ({exc.strerror})") from exc
    if not text.strip() or not re.search(r"\w", re.sub(r"<!--.*?-->", "", text)):
        raise LoadError("no text content")
    meta.setdefault("title", _first_heading(text) or path.stem)
    meta.setdefault("doc_type", "document")
    return LoadedDocument(doc_id=doc_id_for(path, root), path=path, fmt=fmt, text=text, metadata=meta)


def discover(root: Path) -> tuple[list[Path], list[Path]]:
    """Walk ``root`` recursively: (candidate documents, files skipped as configuration)."""
    if root.is_file():
        return [root], []
    docs, skipped = [], []
    # Broken symlinks are kept so that the run names them as unreadable instead of silently
    # dropping them (and letting --prune delete what the store holds for them).
    for path in sorted(p for p in root.rglob("*") if p.is_file() or (p.is_symlink() and not p.exists())):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        (skipped if path.suffix.lower() in IGNORED_SUFFIXES else docs).append(path)
    return docs, skipped
