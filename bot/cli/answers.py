"""The answer engine from the terminal: ``ask``, ``chat``, ``eval`` and ``calibrate``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bot.config import PROJECT_ROOT, Settings
from bot.engine.render_text import render, sources_block

DEFAULT_EVAL_SET = PROJECT_ROOT.parent / "shared" / "eval" / "dev.jsonl"

CHAT_HELP = """コマンド / commands:
  /sources  直前の回答の出典と引用箇所を表示 (show the last answer's sources with passages)
  /new      会話をリセット (start a new conversation)
  /help     このヘルプ (this help)
  /quit     終了 (quit)  — Ctrl-D / Ctrl-C でも終了します"""


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ask", help="answer one question")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the Answer as one JSON object")
    p.add_argument("--doc-type", action="append", help="only passages of this doc_type (repeatable)")
    p.add_argument("--doc", action="append", help="only passages of this document id (repeatable)")
    p.set_defaults(handler=ask)

    p = sub.add_parser("chat", help="interactive local conversation")
    p.set_defaults(handler=chat)

    p = sub.add_parser("eval", help="run an evaluation set")
    p.add_argument("--set", dest="eval_set", help="JSONL file (default: ../shared/eval/dev.jsonl)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--k", type=int, default=5)
    p.set_defaults(handler=evaluate)

    p = sub.add_parser("calibrate", help="refit the answer-or-abstain rule on the development sets (k-fold CV)")
    p.add_argument("--set", dest="sets", action="append",
                   help="JSONL file (repeatable; default: ../shared/eval/dev.jsonl and dev2.jsonl)")
    p.add_argument("--folds", type=int, default=5)
    p.set_defaults(handler=calibrate)


def _engine(settings: Settings):
    """The engine, or a clear message when the knowledge base is missing or unusable."""
    from bot.engine import Engine
    from ingest.store import EmbeddingModelMismatch

    try:
        engine = Engine(settings)
    except EmbeddingModelMismatch as exc:
        print(f"ppp-desk: {exc}", file=sys.stderr)
        return None
    except FileNotFoundError as exc:
        print(f"ppp-desk: {exc}", file=sys.stderr)
        return None
    if len(engine.index) == 0:
        print("ppp-desk: the knowledge base is empty. Run `ppp-desk ingest` (or `make ingest`) first.",
              file=sys.stderr)
        return None
    return engine


def ask(args: argparse.Namespace, settings: Settings) -> int:
    engine = _engine(settings)
    if engine is None:
        return 2
    answer = engine.answer(args.question, doc_types=set(args.doc_type or ()) or None,
                           doc_ids=set(args.doc or ()) or None)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        print(render(answer))
    return 0


def chat(args: argparse.Namespace, settings: Settings, stdin=None, stdout=None) -> int:
    """Interactive conversation; follow-ups use the previous turns as context."""
    from bot.engine import Turn

    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    started = time.perf_counter()
    engine = _engine(settings)
    if engine is None:
        return 2
    interactive = stdin.isatty()
    if interactive:
        import readline  # noqa: F401 - line editing and history for input()
    print(f"{engine.city.desk.name} アシスタント（{len(engine.index.docs)} 資料, "
          f"起動 {time.perf_counter() - started:.1f} 秒）。質問をどうぞ。/help でコマンド一覧。", file=out)
    history: list[Turn] = []
    last = None
    while True:
        try:
            if interactive:
                line = input("\n質問> ")
            else:
                print("\n質問> ", end="", file=out, flush=True)
                line = stdin.readline()
                if not line:
                    raise EOFError
        except (EOFError, KeyboardInterrupt):
            print("\nご利用ありがとうございました。", file=out)
            return 0
        line = line.strip()
        if not line:
            continue
        command = line.lower()
        if command in {"/quit", "/exit", "/q"}:
            print("ご利用ありがとうございました。", file=out)
            return 0
        if command == "/help":
            print(CHAT_HELP, file=out)
            continue
        if command == "/new":
            history.clear()
            print("会話をリセットしました。", file=out)
            continue
        if command == "/sources":
            print(sources_block(last, with_text=True) if last and last.sources else "出典はまだありません。", file=out)
            continue
        if line.startswith("/"):
            print(f"不明なコマンドです: {line.split()[0]}（/help で一覧）", file=out)
            continue
        try:
            answer = engine.answer(line, history=history[-3:])
        except KeyboardInterrupt:
            print("\n（中断しました）", file=out)
            continue
        print("\n" + render(answer), file=out)
        last = answer
        if not answer.abstained:
            history.append(Turn(question=line, answer=answer.text, category=answer.category))


def evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.engine.evaluation import load_set, run

    path = Path(args.eval_set) if args.eval_set else DEFAULT_EVAL_SET
    if not path.exists():
        print(f"ppp-desk eval: {path}: no such file (pass --set FILE)", file=sys.stderr)
        return 2
    try:
        items = load_set(path)
    except ValueError as exc:
        print(f"ppp-desk eval: {exc}", file=sys.stderr)
        return 2
    engine = _engine(settings)
    if engine is None:
        return 2
    report = run(engine, items, k=args.k)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    print(format_report(report, path))
    return 0


def calibrate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.engine.calibrate import refit
    from bot.engine.evaluation import load_set, run

    paths = [Path(p) for p in args.sets] if args.sets else [DEFAULT_EVAL_SET, DEFAULT_EVAL_SET.with_name("dev2.jsonl")]
    sets = {}
    for path in paths:
        if not path.exists():
            print(f"ppp-desk calibrate: {path}: no such file (pass --set FILE)", file=sys.stderr)
            return 2
        try:
            sets[path.name] = load_set(path)
        except ValueError as exc:
            print(f"ppp-desk calibrate: {exc}", file=sys.stderr)
            return 2
    if args.folds < 2:
        print("ppp-desk calibrate: --folds must be at least 2", file=sys.stderr)
        return 2
    engine = _engine(settings)
    if engine is None:
        return 2
    try:
        calibration = refit(engine, sets, args.folds)
    except ValueError as exc:
        print(f"ppp-desk calibrate: {exc}", file=sys.stderr)
        return 2
    print(f"fitted on {', '.join(sets)}: {calibration.report['items']} items, {args.folds} folds, "
          f"{calibration.report['decided_by_rule']} decided by the rule; cross-validated figures:")
    for path in paths:
        print(format_report(run(engine, sets[path.name]), path))
    return 0


def _row(name: str, m: dict) -> str:
    return (f"{name:<16} {m['items']:>5} {m['hit@1']:>6.2f} {m['hit@3']:>6.2f} {m['hit@5']:>6.2f} "
            f"{m['fact_coverage']:>6.2f} {m['abstention_correct']:>6.2f} {m['latency_p50_ms']:>8.1f} "
            f"{m['latency_p95_ms']:>8.1f}")


def format_report(report: dict, path: Path) -> str:
    lines = [f"evaluation set: {path}",
             f"{'':<16} {'items':>5} {'hit@1':>6} {'hit@3':>6} {'hit@5':>6} {'facts':>6} {'abst.':>6} "
             f"{'p50 ms':>8} {'p95 ms':>8}",
             _row("overall", report["overall"])]
    lines += [_row(cat, m) for cat, m in report["per_category"].items()]
    o = report["overall"]
    cv = report.get("decision", {})
    if cv:
        lines.append(f"decision: {cv['held_out']} items scored by the fold model that never saw them (k-fold CV), "
                     f"{cv['full_model']} by the shipped model")
    lines.append(f"answerable abstained: {o['answerable_abstained']}   unanswerable answered: "
                 f"{o['unanswerable_answered']}   category accuracy: {o['category_accuracy']:.2f}")
    if report["failures"]:
        lines.append("failing items:")
        lines += [f"  {f['id']} [{f['category']}] {f['question']} — {f['why']}" for f in report["failures"]]
    else:
        lines.append("failing items: none")
    return "\n".join(lines)
