"""``ppp-desk serve``: Socket Mode when ``SLACK_APP_TOKEN`` is set, otherwise HTTP on ``/slack/events``.

HTTP mode is gunicorn (embedded, so ``ppp-desk serve`` keeps its flags) with the ``gthread``
worker.  The parent checks that the database is migrated (``ppp-desk migrate`` is an explicit
step) and that Slack takes the token, binds the listening socket itself (so a busy port is one
line and exit 2), and hands it to gunicorn's arbiter, which starts ``--workers`` processes,
restarts one that dies, and on SIGTERM lets each finish what it has in hand.  Workers share
nothing but the database: event dedupe, conversation turns, feedback and hand-offs live there.

Each worker builds the Bolt app *after* the fork (never ``preload_app``: the app starts threads
and opens a database engine, neither of which survives a fork), warms the engine, and starts the
durable answer path (outbox worker and recovery sweeper, inside ``build_app``).  On SIGTERM it
stops accepting, waits for the answers it already acknowledged to Slack (Slack will not resend
those) and stops the answer path; whatever is still queued is delivered by the next start.

Connections are bounded per worker: ``THREADS`` requests at a time and ``WORKER_CONNECTIONS``
open connections (idle ones included); further connections wait in the kernel's listen backlog
(``BACKLOG``) until one closes.

:class:`SlackWSGI` is the edge every HTTP request passes: the signature (``X-Slack-Signature``,
5-minute timestamp window) is checked on the raw bytes before anything parses the body
(``bot.slack.verify``); unsigned requests get 401, signed but malformed ones 400, each with one
log line; then Bolt's WSGI adapter dispatches.  ``GET /healthz`` writes and reads the database and
checks the stores (``bot.health``); 503 otherwise.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.sock import TCPSocket
from gunicorn.workers.base import Worker
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.config import Settings
from bot.slack import verify
from bot.slack.logs import configure_slack_logging, kv

log = logging.getLogger("bot.slack.serve")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
DEFAULT_HOST = "0.0.0.0"  # noqa: S104 - Slack must reach the server; put it behind TLS termination
MAX_BODY_BYTES = 1 << 20  # Slack payloads are a few kB; anything near this is not Slack
# An oversized body up to this size is read and thrown away before the 413, so the client sees the
# answer instead of a reset connection (closing with unread bytes makes the kernel send RST); beyond
# it the connection is simply closed, so no one can make a worker read without bound.
DRAIN_LIMIT_BYTES = 8 * MAX_BODY_BYTES

# The bounds (per worker).  An ack takes milliseconds (answers run on the app's own pool), so a few
# threads keep up with Slack; the connection bound caps what idle or slow clients can hold.
THREADS = 8  # requests handled at once
WORKER_CONNECTIONS = 64  # open connections, idle keep-alive ones included
BACKLOG = 128  # connections the kernel queues for all workers before refusing more
KEEPALIVE_S = 5  # an idle keep-alive connection is closed after this
DRAIN_S = 30  # a stopping worker waits this long for answers already acked
GRACEFUL_S = DRAIN_S + 10  # then gunicorn kills it (the systemd unit's TimeoutStopSec is above this)
WORKER_TIMEOUT_S = 60  # a worker whose main loop is stuck this long is killed and replaced

StartResponse = Callable[..., Any]


def _respond(start_response: StartResponse, status: int, body: str,
             content_type: str = "text/plain;charset=utf-8") -> list[bytes]:
    data = body.encode("utf-8")
    start_response(f"{status} {HTTPStatus(status).phrase}",
                   [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]


class SlackWSGI:
    """The WSGI application gunicorn serves: ``/healthz``, and ``/slack/events`` checked, then Bolt.

    Bolt verifies the signature too, but only after its request object has parsed the body; here
    nothing an unsigned sender writes is ever parsed.
    """

    def __init__(self, app: App) -> None:
        self.app = app
        self.bolt = SlackRequestHandler(app, path=EVENTS_PATH)
        self.signing_secret = _signing_secret(app)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
        if path == HEALTH_PATH and method == "GET":
            problems = self.health_problems()
            if problems:
                log.warning(kv("healthz_failed", problems=",".join(problems)))
            return _respond(start_response, 503 if problems else 200,
                            json.dumps({"ok": not problems, "problems": problems, "pid": os.getpid()}),
                            "application/json")
        if path != EVENTS_PATH or method != "POST":
            return _respond(start_response, 404, "not found")
        return self._event(environ, start_response)

    def _event(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        raw, refused = _read_body(environ)
        if raw is None:
            log.warning(kv("http_request_refused", status=refused, reason="too_large" if refused == 413 else "bad_length"))
            # Unread, the rest of the body is drained by gunicorn for at most 5 s, then the connection closes.
            return _respond(start_response, refused, "bad request")
        problem = self._body_problem(raw, environ)
        if problem:
            status, reason = problem
            log.warning(kv("http_request_refused", status=status, reason=reason))
            return _respond(start_response, status, "unauthorized" if status == 401 else "bad request")
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(raw), str(len(raw))
        statuses: list[int] = []

        def seen(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            statuses.append(int(status.split()[0]))
            return start_response(status, headers, exc_info)

        try:
            body = list(self.bolt(environ, seen))
        except Exception as exc:  # noqa: BLE001 - one line and a 500, never a traceback per request
            log.error(kv("http_request_failed", error=type(exc).__name__))
            return _respond(start_response, 500, "internal error")
        status = statuses[-1] if statuses else 500
        log.log(logging.WARNING if status >= 400 else logging.DEBUG,
                kv("http_request", status=status, retry_num=environ.get("HTTP_X_SLACK_RETRY_NUM"),
                   ms=round((time.perf_counter() - started) * 1000, 1)))
        return body

    def _body_problem(self, raw: bytes, environ: dict[str, Any]) -> tuple[int, str] | None:
        """``(status, reason)`` for a body we will not hand to Bolt, else ``None``.

        The signature is checked on the raw bytes first; a signed body that is still malformed
        gets 400.
        """
        if self.signing_secret and not verify.is_ssl_check(raw):
            problem = verify.signature_problem(self.signing_secret, raw,
                                               environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP"),
                                               environ.get("HTTP_X_SLACK_SIGNATURE"))
            if problem:
                return 401, problem
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return 400, "not_utf8"
        problem = verify.body_problem(text, environ.get("CONTENT_TYPE"))
        return (400, problem) if problem else None

    def health_problems(self) -> list[str]:
        """What serving needs and lacks (``bot.health``): empty when healthy."""
        from bot.health import problems
        from bot.slack.app import context_of

        ctx = context_of(self.app)
        return problems(ctx.settings, ctx.db)


def _read_body(environ: dict[str, Any]) -> tuple[bytes | None, int]:
    """The body, or ``(None, status)`` when its length is unusable or over ``MAX_BODY_BYTES``."""
    declared = (environ.get("CONTENT_LENGTH") or "").strip()
    try:
        length = int(declared) if declared else None
    except ValueError:
        return None, 400
    if length is not None and length < 0:
        return None, 400
    if length is not None and length > MAX_BODY_BYTES:
        if length <= DRAIN_LIMIT_BYTES:
            _discard(environ["wsgi.input"], length)
        return None, 413
    # Without a length (chunked), read one byte past the limit to see whether it is over.
    raw = environ["wsgi.input"].read(MAX_BODY_BYTES + 1 if length is None else length)
    return (None, 413) if len(raw) > MAX_BODY_BYTES else (raw, 0)


def _discard(stream: Any, length: int) -> None:
    """Read ``length`` bytes (or until the client stops) without keeping them."""
    while length > 0:
        chunk = stream.read(min(length, 1 << 16))
        if not chunk:
            return
        length -= len(chunk)


def _signing_secret(app: App) -> str | None:
    """The secret this app verifies with (from its settings, the one settings object)."""
    from bot.slack.app import context_of

    try:
        return context_of(app).settings.slack_signing_secret or None
    except KeyError:  # an app not made by build_app: Bolt's own verification still applies
        return None


# --- gunicorn ------------------------------------------------------------------------------------------


class GunicornLogs(glogging.Logger):
    """Gunicorn's messages through the handler ``bot.logs`` installed (text or JSON, one line each).

    No handlers of its own, and no access log: our ``http_request`` line carries status, retry
    number and time, never a body, a header or an address.
    """

    def setup(self, cfg: Any) -> None:
        for logger in (self.error_log, self.access_log):
            logger.handlers.clear()
            logger.propagate = True
            logger.setLevel(logging.NOTSET)

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """Nothing: see the class docstring."""


_booting: dict[str, Worker] = {}  # this process's worker while it builds the app (post_fork → load)


def _post_fork(server: Arbiter, worker: Worker) -> None:
    _booting["worker"] = worker


def _post_worker_init(worker: Worker) -> None:
    log.info(kv("worker_ready", worker=worker.age, pid=os.getpid()))


def _worker_exit(server: Arbiter, worker: Worker) -> None:
    """A worker stops (SIGTERM, SIGINT or a restart): finish the acked answers, stop the answer path.

    Gunicorn also calls this in the parent for a worker that was already gone; there is no app there.
    """
    edge = getattr(worker, "wsgi", None)
    if not isinstance(edge, SlackWSGI):
        return
    from bot.slack.app import stop_background, wait_idle

    drained = wait_idle(edge.app, DRAIN_S)  # answers already acked: Slack will not send them again
    stop_background(edge.app)  # what is still queued is delivered by the next start
    log.info(kv("worker_stopped", worker=worker.age, drained=drained))


@contextmanager
def _heartbeat(worker: Worker | None) -> Iterator[None]:
    """Tell the arbiter this worker is alive while it loads the model (which may outlast the timeout)."""
    done = threading.Event()

    def beat() -> None:
        while worker is not None and not done.wait(2.0):
            worker.notify()

    thread = threading.Thread(target=beat, name="ppp-boot-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(5)


class GunicornServer(BaseApplication):
    """Gunicorn embedded: our settings instead of its command line, our socket, our app per worker."""

    def __init__(self, settings: Settings, sock: socket.socket, workers: int) -> None:
        self.settings, self.sock, self.workers = settings, sock, workers
        super().__init__(prog="ppp-desk serve")

    def load_config(self) -> None:
        host, port = self.sock.getsockname()[:2]
        options: dict[str, Any] = {
            "bind": f"{host}:{port}", "workers": self.workers, "worker_class": "gthread",
            "threads": THREADS, "worker_connections": WORKER_CONNECTIONS, "backlog": BACKLOG,
            "keepalive": KEEPALIVE_S, "timeout": WORKER_TIMEOUT_S, "graceful_timeout": GRACEFUL_S,
            "preload_app": False, "logger_class": GunicornLogs, "accesslog": None, "errorlog": "-",
            "proc_name": "ppp-desk", "post_fork": _post_fork, "post_worker_init": _post_worker_init,
            "worker_exit": _worker_exit,
            "control_socket_disable": True,  # no gunicornc socket under $HOME (the unit has ProtectHome)
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> SlackWSGI:
        """Runs in each worker after the fork: build the app, warm the engine, start the answer path."""
        from bot.errors import StartupError
        from bot.slack.app import build_app, warm_up

        try:
            with _heartbeat(_booting.pop("worker", None)):
                app = build_app(self.settings)
                warm_up(app)
        except StartupError as exc:  # Slack or the database went away since the parent checked
            log.debug("worker start failed", exc_info=True)
            print(f"ppp-desk serve: {exc}", file=sys.stderr, flush=True)
            sys.exit(Arbiter.WORKER_BOOT_ERROR)  # the arbiter stops instead of restarting in a loop
        return SlackWSGI(app)

    def run(self) -> None:
        """The arbiter's loop on the socket we bound (gunicorn closes its descriptor when done)."""
        arbiter = Arbiter(self)
        arbiter.LISTENERS = [TCPSocket(self.sock.getsockname()[:2], self.cfg, arbiter.log, fd=self.sock.detach())]
        arbiter.run()


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket the workers accept on (port 0 picks a free port)."""
    return socket.create_server((host, port), family=socket.AF_INET, backlog=BACKLOG, reuse_port=False)


def serve_http(settings: Settings, sock: socket.socket, workers: int) -> int:
    """Run gunicorn on ``sock`` until SIGTERM/SIGINT; 0 after an orderly stop, 2 if a worker could not boot."""
    parent = os.getpid()
    try:
        GunicornServer(settings, sock, workers).run()
        code: Any = 0
    except SystemExit as exc:
        if os.getpid() != parent:  # a worker leaving the arbiter's loop: let it exit
            raise
        code = exc.code
    rc = 0 if code in (0, None) else 2 if code in (Arbiter.WORKER_BOOT_ERROR, Arbiter.APP_LOAD_ERROR) else 1
    log.info(kv("server_stopped", workers=workers, code=rc))
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
    from bot.slack.app import check_slack, make_web_client

    # Once here rather than in every worker after it has loaded the model: a wrong token or an
    # unreachable Slack is one line (StartupError, exit 2) within a second.
    check_slack(make_web_client(settings), settings)
    port = args.port if getattr(args, "port", None) is not None else settings.port
    host = getattr(args, "host", None) or DEFAULT_HOST
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        print(f"ppp-desk serve: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 2
    log.info(kv("http_listening", host=host, port=sock.getsockname()[1], path=EVENTS_PATH, workers=workers,
                threads=THREADS, worker_connections=WORKER_CONNECTIONS, backlog=BACKLOG))
    return serve_http(settings, sock, workers)
