"""A local stand-in for Slack's Web API (and Socket Mode's WebSocket) for end-to-end tests.

:class:`SlackStub` is a threaded HTTP server on 127.0.0.1 that answers Web API methods the way
Slack does (``{"ok": true, ...}``), records every call (method, parameters from JSON, form or
query, headers, arrival time), and can be programmed per method: a queue of one-off replies
(``429`` with ``Retry-After``, ``500``, an ``{"ok": false}`` error) and persistent handlers.
Point ``WebClient(base_url=stub.api_url)`` / ``SLACK_API_URL`` at it.  ``response_url`` posts
(slash commands, interactivity) are accepted under :meth:`SlackStub.response_url` and recorded
with the method name ``"response_url"``.

:class:`SocketModeServer` speaks Socket Mode's envelope protocol over a real WebSocket: ``hello``
on connect, envelopes you send with :meth:`~SocketModeServer.send_envelope`, and the acks the
client returns (``{"envelope_id": ...}``).  ``apps.connections.open`` on the stub returns its URL.

Reusable by every feature's tests and by ``bench/slack_load.py``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T0001"
APP_ID = "A0001"


@dataclass
class Call:
    """One request the app made: ``method`` is the Web API method (or ``"response_url"``)."""

    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival
    status: int = 200

    def json_param(self, name: str) -> Any:
        """A parameter that form-encoded calls send as a JSON string (``blocks``, ``view``)."""
        value = self.params.get(name)
        return json.loads(value) if isinstance(value, str) else value

    @property
    def blocks(self) -> list[dict]:
        return self.json_param("blocks") or []

    def block_text(self) -> str:
        """All text inside the blocks (sections, contexts, buttons), for assertions."""
        return "\n".join(_texts(self.blocks))


def _texts(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        if isinstance(node.get("text"), str):
            out.append(node["text"])
        for v in node.values():
            if isinstance(v, dict | list):
                out += _texts(v)
    elif isinstance(node, list):
        for v in node:
            out += _texts(v)
    return out


@dataclass
class Reply:
    """A programmed response: HTTP status, JSON (or text) body, extra headers."""

    status: int = 200
    body: dict[str, Any] | str | None = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[["Call"], "dict[str, Any] | Reply"]


class SlackStub:
    """The Web API stand-in.  Use as a context manager or ``start()`` / ``stop()``."""

    def __init__(self, *, bot_user_id: str = BOT_USER_ID, bot_id: str = BOT_ID, team_id: str = TEAM_ID) -> None:
        self.bot_user_id, self.bot_id, self.team_id = bot_user_id, bot_id, team_id
        self._calls: list[Call] = []
        self._cond = threading.Condition()
        self._queued: dict[str, deque[Reply]] = defaultdict(deque)
        self._handlers: dict[str, Handler] = {}
        self._ts = itertools.count(1)
        self.messages: list[dict[str, Any]] = []  # what chat.postMessage stored (for conversations.replies)
        self.users: dict[str, dict[str, Any]] = {}  # users.info overrides by user id
        self.usergroups: dict[str, list[str]] = {}  # usergroups.users.list by group id
        self.socket_mode_url: str | None = None  # what apps.connections.open returns
        self._down_until = 0.0  # monotonic time until which every Web API call fails (an outage)
        self._down_reply = Reply(500, "Internal Server Error")
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> SlackStub:
        stub = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                stub._handle(self)

            def do_GET(self) -> None:  # noqa: N802
                stub._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="slack-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SlackStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the stub first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        """The Web API base URL (``SLACK_API_URL``), with the trailing slash WebClient wants."""
        return self.base_url + "/api/"

    def response_url(self, name: str | None = None) -> str:
        """A ``response_url`` that lands here (recorded as method ``"response_url"``)."""
        return f"{self.base_url}/response/{name or uuid.uuid4().hex[:8]}"

    # --- programming -----------------------------------------------------------------------------
    def queue(self, method: str, *replies: Reply | int) -> None:
        """One-off replies for the next calls of ``method`` (then the defaults again)."""
        with self._cond:
            for r in replies:
                self._queued[method].append(r if isinstance(r, Reply) else Reply(status=r, body="error"))

    def rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` get 429 with ``Retry-After``."""
        for _ in range(times):
            self.queue(method, Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}))

    def fail(self, method: str, status: int = 500, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` get an HTTP error status."""
        for _ in range(times):
            self.queue(method, Reply(status, "Internal Server Error"))

    def error(self, method: str, error: str, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` get ``{"ok": false, "error": error}`` (HTTP 200)."""
        for _ in range(times):
            self.queue(method, Reply(200, {"ok": False, "error": error}))

    def accept_then_fail(self, method: str, status: int = 500, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` take effect (a message is stored) but answer ``status``.

        What a gateway timeout after Slack posted looks like: the caller cannot tell it worked.
        """
        left = [times]
        previous = self._handlers.get(method)

        def handler(call: Call) -> dict[str, Any] | Reply:
            result = previous(call) if previous else self._default(call)
            with self._cond:
                if left[0] <= 0:
                    return result
                left[0] -= 1
            return Reply(status, "Internal Server Error")

        self.on(method, handler)

    def outage(self, seconds: float, reply: Reply | int = 500) -> None:
        """Every Web API call fails with ``reply`` (default HTTP 500) for the next ``seconds``."""
        with self._cond:
            self._down_reply = reply if isinstance(reply, Reply) else Reply(reply, "Internal Server Error")
            self._down_until = time.monotonic() + seconds

    def recover(self) -> None:
        """End an :meth:`outage` now."""
        with self._cond:
            self._down_until = 0.0

    def on(self, method: str, handler: Handler) -> None:
        """A persistent handler for ``method``: gets the :class:`Call`, returns a dict or a Reply."""
        self._handlers[method] = handler

    # --- inspection ------------------------------------------------------------------------------
    def calls(self, method: str | None = None) -> list[Call]:
        with self._cond:
            return [c for c in self._calls if method is None or c.method == method]

    def successful(self, method: str) -> list[Call]:
        """Calls of ``method`` that the stub answered with HTTP 200 (retried failures excluded)."""
        return [c for c in self.calls(method) if c.status == 200]

    def wait_for(self, method: str, count: int = 1, timeout: float = 15.0,
                 where: Callable[[Call], bool] | None = None) -> list[Call]:
        """Block until ``count`` matching calls arrived; raise ``TimeoutError`` (with what did) if not."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self._calls if c.method == method and c.status == 200
                         and (where is None or where(c))]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({c.method for c in self._calls})
                    raise TimeoutError(f"{len(found)}/{count} {method} calls after {timeout}s; seen: {seen}")
                self._cond.wait(left)

    def reset(self) -> None:
        with self._cond:
            self._calls.clear()
            self._queued.clear()
            self.messages.clear()

    # --- request handling ------------------------------------------------------------------------
    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(req.path)
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        ctype = (req.headers.get("Content-Type") or "").lower()
        if raw:
            if "json" in ctype:
                try:
                    body = json.loads(raw)
                    params.update(body if isinstance(body, dict) else {"_json": body})
                except ValueError:
                    params["_raw"] = raw.decode("utf-8", "replace")
            else:
                params.update({k: v[-1] for k, v in parse_qs(raw.decode("utf-8")).items()})
        if parts.path.startswith("/api/"):
            method = parts.path[len("/api/"):]
        elif parts.path.startswith("/response/"):
            method = "response_url"
        else:
            method = parts.path
        call = Call(method=method, path=parts.path, params=params,
                    headers={k.lower(): v for k, v in req.headers.items()}, body=raw, at=time.monotonic())
        reply = self._reply(call)
        call.status = reply.status
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()
        if isinstance(reply.body, dict):
            data, ctype_out = json.dumps(reply.body, ensure_ascii=False).encode(), "application/json; charset=utf-8"
        else:
            data, ctype_out = (reply.body or "").encode(), "text/plain; charset=utf-8"
        req.send_response(reply.status)
        req.send_header("Content-Type", ctype_out)
        req.send_header("Content-Length", str(len(data)))
        for k, v in reply.headers.items():
            req.send_header(k, v)
        req.end_headers()
        req.wfile.write(data)

    def _reply(self, call: Call) -> Reply:
        with self._cond:
            if call.path.startswith("/api/") and time.monotonic() < self._down_until:
                return self._down_reply
            queued = self._queued.get(call.method)
            if queued:
                return queued.popleft()
        if call.method in self._handlers:
            out = self._handlers[call.method](call)
            return out if isinstance(out, Reply) else Reply(200, out)
        if call.method == "response_url":
            return Reply(200, "ok")
        auth = call.headers.get("authorization", "")
        if not auth.startswith("Bearer ") and "token" not in call.params:
            return Reply(200, {"ok": False, "error": "not_authed"})
        return Reply(200, self._default(call))

    def next_ts(self) -> str:
        return f"{1_700_000_000 + next(self._ts)}.{next(self._ts):06d}"

    def _default(self, call: Call) -> dict[str, Any]:
        p, m = call.params, call.method
        if m == "auth.test":
            return {"ok": True, "url": "https://ppp-test.slack.com/", "team": "PPP Test", "user": "ppp-desk",
                    "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": self.bot_id,
                    "is_enterprise_install": False}
        if m == "chat.postMessage":
            ts = self.next_ts()
            msg = {"type": "message", "channel": p.get("channel"), "ts": ts, "thread_ts": p.get("thread_ts"),
                   "text": p.get("text", ""), "blocks": call.json_param("blocks") or [], "user": self.bot_user_id,
                   "bot_id": self.bot_id}
            if p.get("metadata"):
                msg["metadata"] = call.json_param("metadata")
            with self._cond:
                self.messages.append(msg)
            return {"ok": True, "channel": p.get("channel"), "ts": ts, "message": msg}
        if m == "chat.postEphemeral":
            return {"ok": True, "message_ts": self.next_ts()}
        if m == "chat.update":
            return {"ok": True, "channel": p.get("channel"), "ts": p.get("ts"), "text": p.get("text", "")}
        if m in ("views.open", "views.publish", "views.update", "views.push"):
            view = call.json_param("view") or {}
            return {"ok": True, "view": {**view, "id": "V" + uuid.uuid4().hex[:10].upper(),
                                         "hash": uuid.uuid4().hex[:12]}}
        if m == "users.info":
            user = p.get("user", "")
            info = self.users.get(user) or {
                "id": user, "name": user.lower(), "real_name": f"Test {user}", "is_bot": False, "tz": "Asia/Tokyo",
                "profile": {"real_name": f"Test {user}", "display_name": user.lower(),
                            "email": f"{user.lower()}@example.co.jp"}}
            return {"ok": True, "user": info}
        if m == "usergroups.users.list":
            return {"ok": True, "users": self.usergroups.get(p.get("usergroup", ""), [])}
        if m == "conversations.replies":
            thread = p.get("ts")
            with self._cond:
                msgs = [x for x in self.messages if x["channel"] == p.get("channel")
                        and (x["ts"] == thread or x.get("thread_ts") == thread)]
            if str(p.get("include_all_metadata")).lower() not in ("true", "1"):
                msgs = [{k: v for k, v in x.items() if k != "metadata"} for x in msgs]
            return {"ok": True, "messages": msgs, "has_more": False}
        if m == "chat.getPermalink":
            ts = str(p.get("message_ts", "")).replace(".", "")
            return {"ok": True, "channel": p.get("channel"),
                    "permalink": f"https://ppp-test.slack.com/archives/{p.get('channel')}/p{ts}"}
        if m == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(p.get("users", "X")).split(",")[0][1:]}}
        if m == "apps.connections.open":
            if not call.headers.get("authorization", "").startswith("Bearer xapp-"):
                return {"ok": False, "error": "invalid_auth"}
            if not self.socket_mode_url:
                return {"ok": False, "error": "socket_mode_not_enabled"}
            return {"ok": True, "url": self.socket_mode_url}
        return {"ok": True}  # reactions.add, assistant.threads.*, chat.delete, ...


class SocketModeServer:
    """A WebSocket server speaking Socket Mode: ``hello``, envelopes, and the client's acks."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="socket-mode-stub", daemon=True)
        self._server: Any = None
        self._clients: list[Any] = []
        self._acks: dict[str, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self.port = 0

    def start(self) -> SocketModeServer:
        from websockets.asyncio.server import serve

        self._thread.start()

        async def handler(ws: Any) -> None:
            with self._cond:
                self._clients.append(ws)
                self._cond.notify_all()
            await ws.send(json.dumps({"type": "hello", "num_connections": 1,
                                      "debug_info": {"host": "stub", "approximate_connection_time": 3600},
                                      "connection_info": {"app_id": APP_ID}}))
            try:
                async for message in ws:
                    data = json.loads(message)
                    if "envelope_id" in data:
                        with self._cond:
                            self._acks[data["envelope_id"]] = data
                            self._cond.notify_all()
            except Exception:  # noqa: BLE001, S110 - a client going away ends the session
                pass
            finally:
                with self._cond:
                    if ws in self._clients:
                        self._clients.remove(ws)

        async def start_server() -> Any:
            return await serve(handler, "127.0.0.1", 0, ping_interval=None)

        self._server = asyncio.run_coroutine_threadsafe(start_server(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/?ticket={uuid.uuid4().hex}&app_id={APP_ID}"

    def wait_connected(self, timeout: float = 10.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._clients), timeout):
                raise TimeoutError("no Socket Mode client connected")

    def send_envelope(self, type_: str, payload: dict[str, Any], *, envelope_id: str | None = None,
                      retry_attempt: int = 0, accepts_response_payload: bool = False) -> str:
        """Send one envelope (``events_api``, ``slash_commands``, ``interactive``) to the client."""
        envelope_id = envelope_id or str(uuid.uuid4())
        message = {"envelope_id": envelope_id, "type": type_, "payload": payload,
                   "accepts_response_payload": accepts_response_payload, "retry_attempt": retry_attempt,
                   "retry_reason": "timeout" if retry_attempt else ""}
        with self._cond:
            ws = self._clients[-1]
        asyncio.run_coroutine_threadsafe(ws.send(json.dumps(message)), self._loop).result(5)
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        with self._cond:
            if not self._cond.wait_for(lambda: envelope_id in self._acks, timeout):
                raise TimeoutError(f"no ack for envelope {envelope_id}")
            return self._acks[envelope_id]

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            for ws in list(self._clients):
                await ws.close()
            await self._server.wait_closed()

        if self._server is not None:
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> SocketModeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
