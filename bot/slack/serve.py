"""``ppp-desk serve``: Socket Mode when ``SLACK_APP_TOKEN`` is set, otherwise HTTP on ``/slack/events``.

HTTP mode scales out with a pre-fork design: the parent checks that the database is migrated
(``ppp-desk migrate`` is an explicit step), binds one listening socket, and starts ``--workers``
processes that all accept on that socket (the kernel hands each connection to one of them).  Workers share nothing but the database: event
dedupe, conversation turns, feedback and hand-offs all live there.  The parent only supervises:
it restarts a worker that dies and stops them all on SIGTERM/SIGINT.

Each worker is a threaded HTTP server (one thread per connection) around the Bolt app.  The
signature (``X-Slack-Signature``, 5-minute timestamp window) is checked on the raw bytes before
anything parses the body (``bot.slack.verify``); unsigned requests get 401, signed but malformed
ones 400, each with one log line.
``GET /healthz`` writes and reads the database and checks the stores (``bot.health``); 503 otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from slack_bolt import App, BoltRequest

from bot.config import Settings
from bot.slack import verify
from bot.slack.logs import configure_slack_logging, kv

log = logging.getLogger("bot.slack.serve")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
DEFAULT_HOST = "0.0.0.0"  # noqa: S104 - Slack must reach the server; put it behind TLS termination
MAX_BODY_BYTES = 1 << 20  # Slack payloads are a few kB; anything near this is not Slack


class SlackRequestHandler(BaseHTTPRequestHandler):
    """Turns an HTTP request into a :class:`BoltRequest` and Bolt's response back into HTTP."""

    protocol_version = "HTTP/1.1"  # keep-alive: Slack reuses connections
    server_version = "ppp-desk"
    sys_version = ""
    timeout = 30  # idle keep-alive connections are closed after this
    server: SlackHTTPServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if urlsplit(self.path).path == HEALTH_PATH:
            problems = self.server.health_problems()
            if problems:
                log.warning(kv("healthz_failed", problems=",".join(problems)))
            self._send(503 if problems else 200, json.dumps({"ok": not problems, "problems": problems,
                                                             "pid": os.getpid()}), "application/json")
        else:
            self._send(404, "not found")

    def do_POST(self) -> None:  # noqa: N802
        started = time.perf_counter()
        parts = urlsplit(self.path)
        if parts.path != EVENTS_PATH:
            self._send(404, "not found")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            self._send(413 if length > 0 else 400, "bad request")
            return
        raw = self.rfile.read(length)
        body = self._checked_body(raw)
        if body is None:
            return
        headers: dict[str, list[str]] = {}
        for key in self.headers:
            headers[key.lower()] = list(self.headers.get_all(key) or [])
        try:
            resp = self.server.app.dispatch(BoltRequest(body=body, query=parts.query, headers=headers))
        except Exception as exc:  # noqa: BLE001 - one line and a 500, never a dead handler thread
            log.error(kv("http_request_failed", error=type(exc).__name__))
            self._send(500, "internal error")
            return
        payload = resp.body if isinstance(resp.body, str) else json.dumps(resp.body)
        extra = {k: v for k, v in resp.headers.items() if k.lower() not in ("content-length", "content-type")}
        content_type = (resp.headers.get("content-type") or ["text/plain;charset=utf-8"])[0]
        self._send(resp.status, payload, content_type, extra)
        level = logging.WARNING if resp.status >= 400 else logging.DEBUG
        log.log(level, kv("http_request", status=resp.status,
                          retry_num=(headers.get("x-slack-retry-num") or [None])[0],
                          ms=round((time.perf_counter() - started) * 1000, 1)))

    def _refuse(self, status: int, reason: str) -> None:
        """Answer a request we will not hand to Bolt, with one log line (a code, never the body)."""
        log.warning(kv("http_request_refused", status=status, reason=reason))
        self._send(status, "unauthorized" if status == 401 else "bad request")

    def _checked_body(self, raw: bytes) -> str | None:
        """The body as text once it is signed by Slack and parses as a payload; else answered here.

        The signature is checked on the raw bytes first, so nothing an unsigned sender writes is
        ever parsed; a signed body that is still malformed gets 400.
        """
        secret = self.server.signing_secret
        if secret and not verify.is_ssl_check(raw):
            problem = verify.signature_problem(secret, raw, self.headers.get("X-Slack-Request-Timestamp"),
                                               self.headers.get("X-Slack-Signature"))
            if problem:
                self._refuse(401, problem)
                return None
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            self._refuse(400, "not_utf8")
            return None
        problem = verify.body_problem(body, self.headers.get("Content-Type"))
        if problem:
            self._refuse(400, problem)
            return None
        return body

    def _send(self, status: int, body: str, content_type: str = "text/plain;charset=utf-8",
              headers: dict[str, Any] | None = None) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, values in (headers or {}).items():
            for value in values if isinstance(values, list | tuple) else [values]:
                self.send_header(key, str(value))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence http.server's access log (our own line above carries no paths or addresses)."""


class SlackHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server on an already-bound socket (shared by every worker process)."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, sock: socket.socket, app: App) -> None:
        super().__init__(sock.getsockname()[:2], SlackRequestHandler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.server_address = sock.getsockname()[:2]
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])
        self.app = app
        self.signing_secret = _signing_secret(app)

    def get_request(self) -> tuple[socket.socket, Any]:
        # The listening socket is non-blocking (several processes race for each connection);
        # the connection itself must block like any http.server connection.
        conn, addr = self.socket.accept()
        conn.setblocking(True)
        return conn, addr

    def health_problems(self) -> list[str]:
        """What serving needs and lacks (``bot.health``): empty when healthy."""
        from bot.health import problems
        from bot.slack.app import context_of

        ctx = context_of(self.app)
        return problems(ctx.settings, ctx.db)

    def healthy(self) -> bool:
        return not self.health_problems()

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.server_name in ("0.0.0.0", "") else self.server_name  # noqa: S104
        return f"http://{host}:{self.server_port}"


def _signing_secret(app: App) -> str | None:
    """The secret this app verifies with (from its settings, the one settings object)."""
    from bot.slack.app import context_of

    try:
        return context_of(app).settings.slack_signing_secret or None
    except KeyError:  # an app not made by build_app: Bolt's own verification still applies
        return None


def bind_socket(host: str, port: int, backlog: int = 512) -> socket.socket:
    """The listening socket every worker accepts on (port 0 picks a free port)."""
    sock = socket.create_server((host, port), family=socket.AF_INET, backlog=backlog, reuse_port=False)
    sock.setblocking(False)
    sock.set_inheritable(True)
    return sock


def start_http_server(app: App, sock: socket.socket) -> tuple[SlackHTTPServer, threading.Thread]:
    """Serve ``app`` on ``sock`` in a background thread (the worker's loop; tests use it directly)."""
    server = SlackHTTPServer(sock, app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="ppp-slack-http", daemon=True)
    thread.start()
    return server, thread


def serve_worker(settings: Settings, sock: socket.socket, worker: int = 0) -> int:
    """One worker: build the app, warm the engine, serve until SIGTERM/SIGINT."""
    from bot.slack.app import build_app, warm_up

    sock.setblocking(False)
    app = build_app(settings)
    warm_up(app)
    server, thread = start_http_server(app, sock)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    log.info(kv("worker_ready", worker=worker, pid=os.getpid()))
    while not stop.wait(0.5):
        if not thread.is_alive():
            log.error(kv("worker_loop_died", worker=worker))
            return 1
    server.shutdown()
    from bot.slack.app import stop_background, wait_idle

    drained = wait_idle(app, 30)  # answers already acked: Slack will not send them again
    stop_background(app)  # what is still queued is delivered by the next start
    log.info(kv("worker_stopped", worker=worker, drained=drained))
    return 0


def _worker_main(settings: Settings, sock: socket.socket, worker: int, level: int) -> None:
    """Entry point of a spawned worker process."""
    from bot.logs import configure_logging

    configure_logging(settings, verbose=level <= logging.DEBUG)  # the parent's format and level
    configure_slack_logging()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides when workers stop
    from bot.errors import StartupError

    try:
        sys.exit(serve_worker(settings, sock, worker))
    except StartupError as exc:
        logging.getLogger("bot.slack.serve").debug("worker start failed", exc_info=True)
        print(f"ppp-desk serve: {exc}", file=sys.stderr)
        sys.exit(2)


def supervise(settings: Settings, sock: socket.socket, workers: int) -> int:
    """Start ``workers`` processes on ``sock``; restart the ones that die; stop all on a signal."""
    mp = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited threads or locks
    level = logging.getLogger().getEffectiveLevel()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def start(n: int) -> multiprocessing.process.BaseProcess:
        proc = mp.Process(target=_worker_main, args=(settings, sock, n, level), name=f"ppp-desk-worker-{n}")
        proc.start()
        return proc

    procs = {n: start(n) for n in range(workers)}
    restarts: deque[float] = deque()
    rc = 0
    while not stop.wait(0.5):
        for n, proc in list(procs.items()):
            if proc.is_alive():
                continue
            log.warning(kv("worker_exited", worker=n, code=proc.exitcode))
            now = time.monotonic()
            restarts.append(now)
            while restarts and now - restarts[0] > 60:
                restarts.popleft()
            if len(restarts) > 3 * workers:  # crash loop: stop instead of spinning
                log.error(kv("workers_crash_loop", restarts=len(restarts)))
                stop.set()
                rc = 1
                break
            procs[n] = start(n)
    for proc in procs.values():
        if proc.is_alive():
            proc.terminate()
    for proc in procs.values():
        proc.join(15)
        if proc.is_alive():
            proc.kill()
            proc.join(5)
    log.info(kv("server_stopped", workers=workers))
    return rc


def _database_ready(settings: Settings) -> bool:
    """Migrations are an explicit step (``ppp-desk migrate``, after a backup), never a side effect."""
    from bot.ops.migrate import problem

    not_ready = problem(settings)
    if not_ready:
        print(f"ppp-desk serve: {not_ready}", file=sys.stderr)
    return not not_ready


def run(args: argparse.Namespace, settings: Settings) -> int:
    """``ppp-desk serve [--port N] [--workers N]``."""
    configure_slack_logging()
    if not settings.slack_bot_token:
        print("ppp-desk serve: SLACK_BOT_TOKEN is not set (see README: Slack app)", file=sys.stderr)
        return 2
    workers = args.workers if getattr(args, "workers", None) is not None else settings.workers
    if settings.slack_app_token:
        from bot.slack.socket_mode import run_socket_mode

        if not _database_ready(settings):
            return 2

        if workers > 1:
            log.warning(kv("socket_mode_single_process", requested_workers=workers))
        return run_socket_mode(settings)
    if not settings.slack_signing_secret:
        print("ppp-desk serve: SLACK_SIGNING_SECRET is not set (required for HTTP mode; "
              "or set SLACK_APP_TOKEN for Socket Mode)", file=sys.stderr)
        return 2
    if workers < 1:
        print("ppp-desk serve: --workers must be at least 1", file=sys.stderr)
        return 2
    if not _database_ready(settings):
        return 2
    port = args.port if getattr(args, "port", None) is not None else settings.port
    host = getattr(args, "host", None) or DEFAULT_HOST

    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        print(f"ppp-desk serve: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 2
    log.info(kv("http_listening", host=host, port=sock.getsockname()[1], path=EVENTS_PATH, workers=workers))
    try:
        if workers == 1:
            return serve_worker(settings, sock)
        return supervise(settings, sock, workers)
    finally:
        sock.close()
