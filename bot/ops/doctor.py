"""``ppp-desk doctor``: is everything ``serve`` needs in place?  One ✓/✗ line per check, with advice.

It answers the question an IT officer has after installing or upgrading, before starting the
service: configuration, the knowledge store (documents and the embedding model), the database
and its migration level, the Chroma server when one is configured, the Slack tokens (``auth.test``,
the bot user, the granted scopes against ``manifest.yaml``), the desk channel (exists, the app is
in it) and the staff group.  Exit status 0 only when serving would work.

It never changes anything: no migration, no ingest, nothing posted to Slack.  With ``--offline``
(before the Slack app exists, or in CI) the Slack checks are reported as not checked and the exit
status depends on the rest.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.config import PROJECT_ROOT, Settings
from bot.logs import mask_url

OK, FAIL, WARN, SKIP = "ok", "fail", "warn", "skip"
MARK = {OK: "✓", FAIL: "✗", WARN: "!", SKIP: "-"}
MANIFEST = PROJECT_ROOT / "manifest.yaml"
SLACK_TIMEOUT_S = 10


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, how it went, and what to do about it."""

    name: str
    status: str
    detail: str
    advice: str = ""

    def line(self) -> str:
        text = f"{MARK[self.status]} {self.name}: {self.detail}"
        return f"{text}\n    → {self.advice}" if self.advice else text


# --- checks that need no network ------------------------------------------------------------------------
def check_configuration(settings: Settings) -> list[Check]:
    out: list[Check] = []
    data = settings.data_dir
    probe = data if data.exists() else next((p for p in data.parents if p.exists()), Path("/"))
    if not os.access(probe, os.W_OK):
        out.append(Check("configuration", FAIL, f"PPP_DATA_DIR {data} is not writable",
                         "give the service user write access, or point PPP_DATA_DIR elsewhere"))
    try:
        from bot.city import load_city

        city = load_city(settings.knowledge_dir)
        city_name = getattr(city, "city", "") or "?"
    except Exception as exc:  # noqa: BLE001 - any failure to read the city profile is the finding
        out.append(Check("configuration", FAIL, f"PPP_KNOWLEDGE_DIR {settings.knowledge_dir}: city.yaml "
                         f"unreadable ({type(exc).__name__})", "point PPP_KNOWLEDGE_DIR at the knowledge folder"))
        city_name = None
    if not isinstance(logging.getLevelName(str(settings.log_level).upper()), int):
        out.append(Check("configuration", WARN, f"LOG_LEVEL={settings.log_level!r} is not a level (INFO is used)",
                         "set LOG_LEVEL to DEBUG, INFO, WARNING or ERROR"))
    if str(settings.log_format).lower() not in ("text", "json"):
        out.append(Check("configuration", WARN, f"LOG_FORMAT={settings.log_format!r} is neither text nor json",
                         "set LOG_FORMAT=text or LOG_FORMAT=json"))
    if not out or all(c.status == WARN for c in out):
        out.insert(0, Check("configuration", OK, f"data {data}, knowledge {settings.knowledge_dir} "
                            f"(city {city_name}), logs {settings.log_format}/{settings.log_level}"))
    return out


def check_chroma_server(settings: Settings) -> Check | None:
    if not settings.chroma_host:
        return None
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    where = f"{settings.chroma_host}:{settings.chroma_port}"
    try:
        client = chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port,
                                     settings=ChromaSettings(anonymized_telemetry=False))
        client.heartbeat()
        version = client.get_version()
    except Exception as exc:  # noqa: BLE001 - unreachable, refused, TLS: all mean "not usable"
        return Check("chroma server", FAIL, f"{where} does not answer ({type(exc).__name__})",
                     "start it (deploy/chroma.service) or fix CHROMA_HOST / CHROMA_PORT")
    return Check("chroma server", OK, f"{where} answers (Chroma {version})")


def check_knowledge(settings: Settings) -> list[Check]:
    from ingest.store import ChunkStore, EmbeddingModelMismatch

    if not settings.chroma_host and not settings.chroma_dir.is_dir():
        return [Check("knowledge store", FAIL, f"no store at {settings.chroma_dir}",
                      "run `ppp-desk ingest` (builds it from PPP_KNOWLEDGE_DIR)")]
    from ingest.store import open_client

    started = time.perf_counter()
    try:
        client = open_client(settings)
        try:  # looked up first: opening a ChunkStore would create an empty collection
            client.get_collection(settings.collection, embedding_function=None)
        except Exception:  # noqa: BLE001 - NotFoundError differs between embedded and server clients
            return [Check("knowledge store", FAIL, f"no collection '{settings.collection}' yet",
                          "run `ppp-desk ingest` (builds it from PPP_KNOWLEDGE_DIR)")]
        store = ChunkStore(settings, client=client)
        docs = store.documents()
        vector = store.embeddings.embed_query("提案できますか")
    except EmbeddingModelMismatch as exc:
        return [Check("knowledge store", FAIL, str(exc).split(". ")[0], "set EMBEDDINGS back, or re-ingest")]
    except Exception as exc:  # noqa: BLE001 - a store or model that cannot be opened is the finding
        return [Check("knowledge store", FAIL, f"cannot be opened ({type(exc).__name__}: {str(exc)[:120]})",
                      "run `ppp-desk ingest`; check EMBEDDINGS and the data directory")]
    ms = (time.perf_counter() - started) * 1000
    if not docs:
        return [Check("knowledge store", FAIL, "no documents ingested", "run `ppp-desk ingest`")]
    chunks = sum(len(d.chunk_ids) for d in docs.values())
    out = [Check("knowledge store", OK, f"{len(docs)} documents, {chunks} chunks; model {store.model_id} "
                 f"({len(vector)} dimensions, loaded in {ms:.0f} ms)")]
    if not settings.lexical_dir.is_dir():
        out.append(Check("knowledge store", FAIL, f"no lexical index at {settings.lexical_dir}",
                         "run `ppp-desk ingest` again"))
    return out


def check_database(settings: Settings) -> Check:
    from bot.db import Database
    from bot.health import problems
    from bot.ops import migrate

    url = mask_url(settings.db_url)
    try:
        st = migrate.state(settings)
    except Exception as exc:  # noqa: BLE001 - unreachable server, bad URL, unreadable file
        from bot.logs import fatal_message

        return Check("database", FAIL, fatal_message(exc, settings).removeprefix("DATABASE_URL: "),
                     "check DATABASE_URL and that the database server is running")
    if not st.up_to_date:
        why = migrate.problem(settings) or st.summary()
        return Check("database", FAIL, f"{url}: {st.summary()}" if st.exists else st.summary(),
                     "install the matching version or restore a backup" if st.unknown
                     else "back up (`ppp-desk backup DIR`), then run `ppp-desk migrate`" if st.exists
                     else why.split(": ", 1)[-1])
    db = Database(settings.db_url, run_migrations=False)
    try:
        wrong = [p for p in problems(settings, db) if p.startswith("database")]
    finally:
        db.dispose()
    if wrong:
        return Check("database", FAIL, f"{url}: {', '.join(wrong)}",
                     "the service user must be able to write the database (file permissions, grants)")
    return Check("database", OK, f"{url} at revision {'+'.join(st.current)} (up to date; write and read back)")


# --- Slack ---------------------------------------------------------------------------------------------
def manifest_scopes(path: Path = MANIFEST) -> set[str]:
    """The bot scopes ``manifest.yaml`` asks for (what the app is built to use)."""
    data = yaml.safe_load(path.read_text("utf-8")) or {}
    return set(((data.get("oauth_config") or {}).get("scopes") or {}).get("bot") or [])


def _client(settings: Settings, token: str):
    from slack_sdk import WebClient

    return WebClient(token=token, base_url=settings.slack_api_url, timeout=SLACK_TIMEOUT_S)


def _slack_error(exc: Exception) -> str:
    from slack_sdk.errors import SlackApiError

    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or "error")
    return type(exc).__name__


def check_slack(settings: Settings) -> list[Check]:
    """Tokens, bot user, scopes, desk channel and staff group, against the Web API."""
    if not settings.slack_bot_token:
        return [Check("slack", FAIL, "not configured (SLACK_BOT_TOKEN is not set)",
                      "create the app from manifest.yaml (README: Slack app), or use --offline for now")]
    client = _client(settings, settings.slack_bot_token)
    out: list[Check] = []
    try:
        resp = client.auth_test()
    except Exception as exc:  # noqa: BLE001 - refused token or unreachable API
        from slack_sdk.errors import SlackApiError

        if isinstance(exc, SlackApiError):
            return [Check("slack token", FAIL, f"auth.test refused SLACK_BOT_TOKEN ({_slack_error(exc)})",
                          "copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page")]
        return [Check("slack token", FAIL, f"cannot reach {settings.slack_api_url} ({_slack_error(exc)})",
                      "check the network / proxy to Slack, or SLACK_API_URL")]
    if not resp.get("bot_id"):
        out.append(Check("slack token", FAIL, "SLACK_BOT_TOKEN is not a bot token",
                         "use the Bot User OAuth Token (xoxb-…), not a user token"))
    else:
        out.append(Check("slack token", OK, f"bot {resp.get('user')} ({resp.get('user_id')}) in "
                         f"{resp.get('team')} ({resp.get('team_id')})"))
    granted_header = (resp.headers or {}).get("x-oauth-scopes") or (resp.headers or {}).get("X-OAuth-Scopes")
    wanted = manifest_scopes()
    if granted_header is None:
        out.append(Check("slack scopes", WARN, "Slack did not report the token's scopes",
                         f"make sure the app has: {', '.join(sorted(wanted))}"))
    else:
        granted = {s.strip() for s in str(granted_header).split(",") if s.strip()}
        missing, extra = sorted(wanted - granted), sorted(granted - wanted)
        if missing:
            out.append(Check("slack scopes", FAIL, f"missing {', '.join(missing)}",
                             "update the app from manifest.yaml and reinstall it to the workspace"))
        else:
            out.append(Check("slack scopes", OK, f"all {len(wanted)} scopes of manifest.yaml granted"
                             + (f" (also granted, not needed: {', '.join(extra)})" if extra else "")))
    out.append(_check_mode(settings))
    out.append(_check_desk_channel(settings, client))
    out.append(_check_staff(settings, client))
    return out


def _check_mode(settings: Settings) -> Check:
    if settings.slack_app_token:
        try:
            _client(settings, settings.slack_app_token).apps_connections_open(app_token=settings.slack_app_token)
        except Exception as exc:  # noqa: BLE001
            return Check("slack mode", FAIL, f"Socket Mode: SLACK_APP_TOKEN refused ({_slack_error(exc)})",
                         "create an app-level token with connections:write and enable Socket Mode")
        return Check("slack mode", OK, "Socket Mode (SLACK_APP_TOKEN accepted)")
    if not settings.slack_signing_secret:
        return Check("slack mode", FAIL, "HTTP mode needs SLACK_SIGNING_SECRET",
                     "copy the Signing Secret from the app's Basic Information page")
    return Check("slack mode", OK, f"HTTP mode on port {settings.port} (/slack/events; signing secret set)")


def _check_desk_channel(settings: Settings, client) -> Check:
    channel = settings.desk_channel_id
    if not channel:
        return Check("desk channel", FAIL, "DESK_CHANNEL_ID is not set",
                     "create a private channel for the desk staff, /invite the app, set DESK_CHANNEL_ID")
    try:
        info = client.conversations_info(channel=channel).get("channel") or {}
    except Exception as exc:  # noqa: BLE001
        code = _slack_error(exc)
        advice = ("check DESK_CHANNEL_ID, and /invite the app in that channel (a private channel is "
                  "invisible to the app until it is a member)" if code == "channel_not_found"
                  else "update the app from manifest.yaml (groups:read) and reinstall it"
                  if code == "missing_scope" else "check the network to Slack")
        return Check("desk channel", FAIL, f"{channel}: conversations.info failed ({code})", advice)
    name = info.get("name") or channel
    if info.get("is_archived"):
        return Check("desk channel", FAIL, f"#{name} is archived", "use an active channel for DESK_CHANNEL_ID")
    if not info.get("is_member"):
        return Check("desk channel", FAIL, f"#{name} exists but the app is not in it",
                     f"/invite the app in #{name}")
    kind = "private" if info.get("is_private") else "public"
    return Check("desk channel", OK, f"#{name} ({channel}, {kind}); the app is a member")


def _check_staff(settings: Settings, client) -> Check:
    ids = settings.staff_user_ids
    group = settings.desk_staff_usergroup_id
    if not group and not ids:
        return Check("staff", FAIL, "nobody is staff (neither DESK_STAFF_USERGROUP_ID nor DESK_STAFF_USER_IDS)",
                     "set a user group id (S…) or staff user ids (U…, comma-separated)")
    if not group:
        return Check("staff", OK, f"{len(ids)} staff user ids (DESK_STAFF_USER_IDS)")
    try:
        users = client.usergroups_users_list(usergroup=group).get("users") or []
    except Exception as exc:  # noqa: BLE001
        return Check("staff", FAIL, f"user group {group} does not resolve ({_slack_error(exc)})",
                     "check DESK_STAFF_USERGROUP_ID (an S… id) and the usergroups:read scope")
    if not users and not ids:
        return Check("staff", FAIL, f"user group {group} has no members", "add the desk staff to the group")
    extra = f" + {len(ids)} user ids" if ids else ""
    return Check("staff", OK, f"user group {group}: {len(users)} members{extra}")


# --- the report ----------------------------------------------------------------------------------------
def run_checks(settings: Settings, *, offline: bool = False) -> list[Check]:
    checks: list[Check] = []

    def guarded(name: str, fn: Callable[[], Any]) -> None:
        try:
            got = fn()
        except Exception as exc:  # noqa: BLE001 - a check that breaks is reported, the rest still run
            got = Check(name, FAIL, f"check failed ({type(exc).__name__}: {str(exc)[:120]})")
        if got is not None:
            checks.extend(got if isinstance(got, list) else [got])

    guarded("configuration", lambda: check_configuration(settings))
    guarded("chroma server", lambda: check_chroma_server(settings))
    if any(c.name == "chroma server" and c.status == FAIL for c in checks):
        checks.append(Check("knowledge store", SKIP, "not checked (the Chroma server does not answer)"))
    else:
        guarded("knowledge store", lambda: check_knowledge(settings))
    guarded("database", lambda: check_database(settings))
    if offline:
        checks.append(Check("slack", SKIP, "not checked (--offline)"
                            + ("" if settings.slack_bot_token else "; not configured")))
    else:
        guarded("slack", lambda: check_slack(settings))
    return checks


def serving_would_work(checks: list[Check]) -> bool:
    return all(c.status in (OK, WARN, SKIP) for c in checks)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """``ppp-desk doctor [--offline] [--json]``: exit 0 only when serving would work."""
    checks = run_checks(settings, offline=args.offline)
    ok = serving_would_work(checks)
    if args.json:
        print(json.dumps({"ok": ok, "offline": bool(args.offline), "checks": [asdict(c) for c in checks]},
                         ensure_ascii=False, indent=2))
    else:
        for check in checks:
            print(check.line())
        failed = sum(c.status == FAIL for c in checks)
        verdict = ("serve would work" if ok else f"{failed} problem(s): serve would not work")
        print(f"doctor: {verdict}" + (" (Slack not checked)" if args.offline and ok else ""))
    sys.stdout.flush()
    return 0 if ok else 1
