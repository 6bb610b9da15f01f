"""A loopback OpenAI-compatible chat endpoint for the records prefill tests.

The real ``init_chat_model`` client talks HTTP to it; the test chooses the reply and reads the
requests.  It stands in for the external model service, not for any of our code.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeChatModel:
    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                out = json.dumps({"id": "c1", "object": "chat.completion", "created": 0, "model": body.get("model"),
                                  "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": outer.reply}}],
                                  "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@contextmanager
def fake_chat_model(reply: str) -> Iterator[FakeChatModel]:
    model = FakeChatModel(reply)
    threading.Thread(target=model.server.serve_forever, daemon=True).start()
    try:
        yield model
    finally:
        model.server.shutdown()
        model.server.server_close()
