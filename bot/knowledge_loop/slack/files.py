"""「ナレッジに追加」: a document shared in the desk channel becomes public knowledge, cited by page.

Staff choose the message shortcut ``add_to_knowledge`` on a message with a PDF, DOCX, Markdown or
HTML file.  The file is fetched with the bot token from its ``url_private`` (only from Slack's own
hosts, never a URL a message could point elsewhere), kept under ``PPP_DATA_DIR/slack_files`` and
read with the same loaders and limits as ``ppp-desk ingest`` (``bot.knowledge_loop.documents``:
the kept file and the audit are what brings it back after a rebuild or a restore).  A modal previews it — title, type,
pages, chunks, and what stops it (encrypted, image-only, over a limit, already in the knowledge) —
and on confirmation it is put into the public store like an ingested file, audited.  App Home lists
these documents with 「削除」.  Staff only, checked on the server at every step.
"""

from __future__ import annotations

import logging
import shutil
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.knowledge_loop import documents
from bot.knowledge_loop.documents import FILE_ID, doc_id_of, load_stored, stored_path
from bot.knowledge_loop.slack import common
from bot.knowledge_loop.slack.texts import s
from bot.slack import kit
from bot.slack.kit import escape
from bot.slack.payload import action_of, channel_of, user_of
from bot.slack.sealed import seal_view_meta, view_meta
from bot.slack.staff import staff_only
from bot.slack.texts import t
from bot.slack.web import call_api, tell_user
from ingest.chunking import chunk_document
from ingest.loaders import SUPPORTED, LoadedDocument, LoadError
from ingest.pipeline import check_chunks, file_hash, text_hash
from ingest.store import ChunkStore

log = logging.getLogger("bot.knowledge_loop.slack")

SHORTCUT = "add_to_knowledge"
MODAL = "loop_add_document"
ACTION_REMOVE = "loop_remove_document"
FORMATS = {"pdf": "PDF", "docx": "DOCX", "markdown": "Markdown", "text": "テキスト", "html": "HTML"}


def _allowed_hosts(settings: Any) -> set[str]:
    """Where the bot token may be sent: Slack's file host and the configured Web API's host."""
    return {h for h in ("files.slack.com", urlsplit(settings.slack_api_url).hostname) if h}


def download(settings: Any, token: str, url: str, dest: Path) -> None:
    """Fetch ``url`` into ``dest`` with the bot token, refusing other hosts and files over the limit."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or parts.hostname not in _allowed_hosts(settings):
        raise LoadError("the file is not on Slack's file host")
    limit = int(settings.max_file_mb * 1_000_000)
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - host checked above
        declared = int(resp.headers.get("Content-Length") or 0)
        if declared > limit:
            raise LoadError(f"file too large ({declared / 1e6:.1f} MB > {settings.max_file_mb:g} MB, PPP_MAX_FILE_MB)")
        data = resp.read(limit + 1)
        if "text/html" in (resp.headers.get("Content-Type") or "") and not url.lower().split("?")[0].endswith(
                (".html", ".htm")):
            raise LoadError("Slack answered with a login page (is the files:read scope granted?)")
    if len(data) > limit:
        raise LoadError(f"file too large (> {settings.max_file_mb:g} MB, PPP_MAX_FILE_MB)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)


@dataclass
class Preview:
    """What staff see before adding: the document as ingest would store it, and what stops it."""

    title: str = ""
    fmt: str = ""
    pages: int | None = None
    chunks: int = 0
    problems: list[str] = field(default_factory=list)
    loaded: LoadedDocument | None = None


def preview(settings: Any, store: ChunkStore, path: Path, file_id: str, name: str) -> Preview:
    """Load and chunk ``path`` with ingest's loaders and limits; nothing is written to the store."""
    out = Preview(title=Path(name).stem, fmt=FORMATS.get(SUPPORTED.get(path.suffix.lower(), ""), path.suffix))
    try:
        loaded = load_stored(settings, path, file_id, Path(name).stem)
    except LoadError as exc:
        out.problems.append(str(exc))
        return out
    out.title, out.loaded = str(loaded.metadata["title"]), loaded
    out.pages = loaded.text.count("<!-- page:") or None
    chunks = chunk_document(loaded, settings.chunk_chars)
    out.chunks = len(chunks)
    try:
        check_chunks(chunks, settings)  # the limits `ppp-desk ingest` applies
    except LoadError as exc:
        out.problems.append(str(exc))
    hashes = {file_hash(path, settings), text_hash(loaded.text)}
    for doc_id, rec in store.documents().items():
        if rec.file_hash in hashes and doc_id != loaded.doc_id:
            out.problems.append(s("file_duplicate", title=rec.title))
            break
    if doc_id_of(file_id) in store.documents():
        out.problems.append(s("file_duplicate", title=store.documents()[doc_id_of(file_id)].title))
    return out


def preview_modal(p: Preview, meta: dict[str, Any]) -> dict[str, Any]:
    pages = str(p.pages) if p.pages else "—"
    head = kit.section(s("file_preview", title=escape(p.title), fmt=p.fmt, pages=pages, chunks=p.chunks))
    if p.problems:
        problems = kit.section(s("file_problems") + "\n" + "\n".join(f"• {escape(x)}" for x in p.problems),
                               block_id="problems")
        return kit.modal(MODAL, s("file_title"), [head, problems], close=s("close"), metadata=meta)
    return kit.modal(MODAL, s("file_title"), [head, kit.context(s("file_intro"))], close=s("cancel"),
                     submit=s("file_add"), metadata=meta, notify_on_close=True)


def register(app: App, ctx: Any) -> None:

    store = common.public_store(ctx)
    staff = [staff_only(ctx.staff, t("ja", "staff_only"))]

    @app.shortcut(SHORTCUT, middleware=staff)
    def add_from_message(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        user = user_of(body)
        if channel_of(body) != ctx.settings.desk_channel_id:
            tell_user(client, body, s("file_desk_only"))
            return
        files = [f for f in (body.get("message") or {}).get("files") or []
                 if FILE_ID.match(str(f.get("id") or "")) and Path(str(f.get("name") or "")).suffix.lower() in SUPPORTED]
        if not files:
            tell_user(client, body, s("file_none"))
            return
        opened = call_api(client, "views.open", trigger_id=body.get("trigger_id"),
                            view=common.info_view(s("file_title"), s("file_loading")))
        view_id = ((opened or {}).get("view") or {}).get("id")
        file_id = str(files[0]["id"])
        info = (call_api(client, "files.info", file=file_id) or {}).get("file") or {}
        name = str(info.get("name") or files[0].get("name") or "document")
        path = stored_path(ctx.settings, file_id, name)
        try:
            url = str(info.get("url_private_download") or info.get("url_private") or "")
            download(ctx.settings, ctx.settings.slack_bot_token or "", url, path)
        except Exception as exc:  # noqa: BLE001 - the staff member hears why, in the modal
            reason = str(exc) if isinstance(exc, LoadError) else type(exc).__name__
            log.warning("knowledge_loop: file download failed (%s)", type(exc).__name__)
            if view_id:
                common.say_in_modal(client, view_id, s("file_title"), s("file_download_failed", reason=reason))
            return
        p = preview(ctx.settings, store, path, file_id, name)
        if p.problems:
            shutil.rmtree(path.parent, ignore_errors=True)
        meta = seal_view_meta(ctx.settings, user, {"f": file_id, "n": name})
        if view_id:
            call_api(client, "views.update", view_id=view_id, view=preview_modal(p, meta))

    def check_add(ack: Ack) -> None:
        ack(response_action="update", view=common.info_view(s("file_title"), s("file_adding")))

    def add(body: dict, view: dict, client: WebClient) -> None:
        user = user_of(body)
        meta = view_meta(ctx.settings, view, user)
        file_id, name = str(meta.get("f") or ""), str(meta.get("n") or "")
        p = (preview(ctx.settings, store, stored_path(ctx.settings, file_id, name), file_id, name)
             if FILE_ID.match(file_id) else None)
        if p is None or p.problems or p.loaded is None:
            reason = "; ".join(p.problems) if p else "metadata"
            common.say_in_modal(client, view.get("id"), s("file_title"), s("file_add_failed", reason=escape(reason)))
            return
        try:
            record = documents.add(ctx.settings, ctx.db, store, p.loaded, user)  # stored, then audited
        except Exception as exc:  # noqa: BLE001 - the staff member must hear back
            log.exception("knowledge_loop: document not added (%s)", type(exc).__name__)
            common.say_in_modal(client, view.get("id"), s("file_title"), s("file_add_failed", reason=type(exc).__name__))
            return
        common.reload_engine(ctx)
        log.info("knowledge_loop: document %s added (%s chunks)", record.doc_id, len(record.chunk_ids))
        common.say_in_modal(client, view.get("id"), s("file_title"),
                            s("file_added", title=escape(record.title), chunks=len(record.chunk_ids)))

    app.view(MODAL, middleware=[staff_only(ctx.staff, t("ja", "staff_only"), field="problems")])(
        ack=check_add, lazy=[add])

    def cancelled(body: dict, view: dict) -> None:
        """「キャンセル」 on the preview: the downloaded file is not kept (the daily sweep is the backstop)."""
        file_id = str(view_meta(ctx.settings, view, user_of(body)).get("f") or "")
        if documents.discard_preview(ctx.settings, ctx.db, file_id):
            log.info("knowledge_loop: preview of %s cancelled, file deleted", file_id)

    def ack_only(ack: Ack) -> None:
        ack()

    app.view_closed(MODAL)(ack=ack_only, lazy=[cancelled])

    def remove(body: dict, client: WebClient) -> None:
        user = user_of(body)
        doc_id = str(action_of(body).get("value") or "")
        if documents.remove(ctx.settings, ctx.db, store, doc_id, user) is not None:  # audited, file deleted
            common.reload_engine(ctx)
            log.info("knowledge_loop: document %s removed", doc_id)
        ctx.refresh_home(client, user)

    app.action(ACTION_REMOVE, middleware=staff)(ack=ack_only, lazy=[remove])
