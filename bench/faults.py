"""Fault probe: no acked question lost, none answered twice (issue 10, item 3).

Runs the real server (``python -m bot.cli serve``, its own process) against the Web API stand-in
of the tests (``bench/slack_stub.py``) and injects two faults:

- **kill**: N signed DMs are released at once; as soon as every one is acked the server gets
  SIGKILL (mid-answer), is started again on the same database, and Slack's retries of all N
  events are resent (``X-Slack-Retry-Num: 1``).
- **outage**: the Web API answers HTTP 500 to every call for ``--outage-s`` seconds (longer than
  the client's retries) while N questions arrive; then it recovers.

For each: questions acked, answered before the fault, left without an answer *or* apology after
recovery (goal 0), questions answered more than once (goal 0), and seconds from recovery to the
last reply.

    python -m bench.faults [--n 30] [--outage-s 30] [--data-dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.server_process import ServerProcess
from bench.slack_load import QUESTIONS, _knowledge_dir
from bench.slack_payloads import event_callback, message_im
from bench.slack_stub import SlackStub


def _fire(server: ServerProcess, bodies: list[dict], retry_num: int | None = None) -> list[int]:
    statuses: list[int] = []
    lock = threading.Lock()

    def one(body: dict) -> None:
        try:
            status = server.sender.event_body(body, retry_num=retry_num).status
        except Exception:  # noqa: BLE001 - a refused connection is a failed ack
            status = 0
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one, args=(b,)) for b in bodies]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return statuses


def _replies(stub: SlackStub, bodies: list[dict]) -> dict[str, list]:
    """Successful posts per question (thread ts); an apology is a reply too."""
    out: dict[str, list] = {b["event"]["ts"]: [] for b in bodies}
    for call in stub.successful("chat.postMessage"):
        ts = call.params.get("thread_ts")
        if ts in out:
            out[ts].append(call)
    return out


def _settle(stub: SlackStub, bodies: list[dict], timeout: float) -> float:
    """Wait until every question has a reply (or ``timeout``); returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if all(_replies(stub, bodies).values()):
            break
        time.sleep(0.2)
    waited = time.monotonic() - started
    time.sleep(2.0)  # let a duplicate show itself
    return waited


def _score(stub: SlackStub, bodies: list[dict], acks: list[int]) -> dict:
    replies = _replies(stub, bodies)
    return {
        "acked": sum(1 for s in acks if s == 200),
        "unanswered": sum(1 for r in replies.values() if not r),
        "duplicates": sum(len(r) - 1 for r in replies.values() if len(r) > 1),
        "apologies": sum(1 for r in replies.values() if r and not r[0].params.get("blocks")),
    }


def _bodies(n: int, tag: str) -> list[dict]:
    return [event_callback(message_im(QUESTIONS[i % len(QUESTIONS)], user=f"U0{tag}{i:04d}",
                                      channel=f"D0{tag}{i:04d}")) for i in range(n)]


def kill_scenario(kb: Path, tmp: Path, n: int) -> dict:
    with SlackStub() as stub:
        server = ServerProcess(kb, tmp / "kill.db", stub).start()
        try:
            bodies = _bodies(n, "KILL")
            acks = _fire(server, bodies)
            server.kill()
            before = sum(1 for r in _replies(stub, bodies).values() if r)
            restart_at = time.monotonic()
            server.start()
            restart_s = time.monotonic() - restart_at
            retry_acks = _fire(server, bodies, retry_num=1)
            waited = _settle(stub, bodies, timeout=180)
            result = _score(stub, bodies, acks)
        finally:
            server.stop()
            server.kill()
    return {"scenario": "kill -9 mid-answer", "questions": n, **result, "answered_before_kill": before,
            "retry_acks_200": sum(1 for s in retry_acks if s == 200), "restart_s": round(restart_s, 1),
            "recovery_to_last_reply_s": round(waited, 1)}


def outage_scenario(kb: Path, tmp: Path, n: int, outage_s: float) -> dict:
    with SlackStub() as stub:
        server = ServerProcess(kb, tmp / "outage.db", stub).start()
        try:
            stub.outage(outage_s)
            started = time.monotonic()
            bodies = _bodies(n, "DOWN")
            acks = _fire(server, bodies)
            during = sum(1 for r in _replies(stub, bodies).values() if r)
            left = outage_s - (time.monotonic() - started)
            if left > 0:
                time.sleep(left)
            waited = _settle(stub, bodies, timeout=180)
            result = _score(stub, bodies, acks)
            failed_calls = sum(1 for c in stub.calls() if c.status == 500)
        finally:
            server.stop()
            server.kill()
    return {"scenario": f"Web API 500s for {outage_s:.0f} s", "questions": n, **result,
            "answered_during_outage": during, "failed_api_calls": failed_calls,
            "recovery_to_last_reply_s": round(waited, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.faults", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=30, help="questions in flight per scenario (default 30)")
    parser.add_argument("--outage-s", type=float, default=30.0, help="length of the Web API outage (default 30)")
    parser.add_argument("--data-dir", type=Path, help="a data dir holding the ingested knowledge")
    parser.add_argument("--only", choices=["kill", "outage"], help="run one scenario")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    kb, _note = _knowledge_dir(args.data_dir)
    tmp = Path(tempfile.mkdtemp(prefix="ppp-bench-faults-"))
    results = []
    if args.only in (None, "kill"):
        results.append(kill_scenario(kb, tmp, args.n))
    if args.only in (None, "outage"):
        results.append(outage_scenario(kb, tmp, args.n, args.outage_s))
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for r in results:
            print(f"{r['scenario']}: {r['questions']} questions, {r['acked']} acked")
            for key, value in r.items():
                if key not in ("scenario", "questions", "acked"):
                    print(f"  {key:<26} {value}")
    bad = sum(r["unanswered"] + r["duplicates"] for r in results)
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
