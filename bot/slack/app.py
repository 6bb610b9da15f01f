"""The Bolt app: one builder used by HTTP mode, Socket Mode, the tests and the benchmark.

``build_app`` is the composition root: it builds the application object
(:class:`~bot.slack.services.Services`: settings, database, engine, city, staff, Web API client
with its retry policy, the precedent space) once, and hands it to every feature package's
``register(app, services)`` — the answers first, then :data:`FEATURE_MODULES`.  Feature packages
are optional: one that does not exist yet is skipped, but an import error *inside* an existing one
is raised, not hidden.  The app carries its services (:func:`context_of`).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.city import load_city
from bot.config import Settings
from bot.db import Database
from bot.errors import StartupError
from bot.slack import answers, fallbacks
from bot.slack.dedupe import EventDeduper
from bot.slack.logs import RedactSlackBodies, configure_slack_logging, error_code, kv, retry_handlers
from bot.slack.services import Services
from bot.slack.staff import StaffDirectory

log = logging.getLogger("bot.slack.app")

FEATURE_MODULES = ("bot.records.slack", "bot.precedents.slack", "bot.knowledge_loop.slack")

# Threads for acks and lazy listeners.  Answers themselves run on ctx.answer_pool (one engine
# thread), so a burst of questions parks here cheaply and never delays the next ack.
LISTENER_THREADS = 32

_SERVICES_ATTR = "ppp_services"


class TrackedExecutor(ThreadPoolExecutor):
    """A thread pool that knows how much work is in flight.

    A stopping worker waits for answers already acknowledged to Slack (Slack will not resend
    them), and tests wait for the lazy listeners to finish before asserting what was posted.
    """

    def __init__(self, max_workers: int) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="ppp-slack")
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        with self._idle:
            self._pending += 1
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._done(None)
            raise
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future | None) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """True once nothing is queued or running (``False`` if ``timeout`` passed first)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)


def make_web_client(settings: Settings, token: str | None = None) -> WebClient:
    """A Web API client for ``SLACK_API_URL`` with the retry policy (429, 5xx, connection errors)."""
    base = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    return WebClient(token=token or settings.slack_bot_token, base_url=base, timeout=15,
                     retry_handlers=retry_handlers())


def _bolt_logger() -> logging.Logger:
    """Bolt copies level and filters from this logger: INFO at least, bodies redacted."""
    logger = logging.getLogger("slack_bolt.ppp_desk")
    logger.setLevel(max(logging.getLogger().getEffectiveLevel(), logging.INFO))
    if not any(isinstance(f, RedactSlackBodies) for f in logger.filters):
        logger.addFilter(RedactSlackBodies())
    return logger


def _register_features(app: App, services: Services) -> list[str]:
    loaded: list[str] = []
    for name in FEATURE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Only the feature module itself (or its not-yet-created package) may be missing.
            if exc.name and (exc.name == name or name.startswith(exc.name + ".")) and exc.name != "bot":
                log.info(kv("feature_absent", module=name))
                continue
            raise
        module.register(app, services)
        loaded.append(name)
    return loaded


def build_app(settings: Settings, *, client: WebClient | None = None, engine: Any = None,
              db: Database | None = None, socket_mode: bool = False) -> App:
    """The Slack app with every listener registered.

    ``socket_mode`` only relaxes the signing secret requirement (Socket Mode requests arrive over
    an authenticated WebSocket and carry no signature); HTTP mode refuses to run without it.
    """
    if not settings.slack_bot_token:
        raise ValueError("SLACK_BOT_TOKEN is not set")
    if not socket_mode and not settings.slack_signing_secret:
        raise ValueError("SLACK_SIGNING_SECRET is not set (required in HTTP mode)")
    configure_slack_logging()
    client = client or make_web_client(settings)
    check_slack(client, settings)  # before loading anything heavy: a wrong token fails in a second
    if db is None:
        db = Database(settings.db_url)
    if engine is None:
        from bot.engine import Engine

        engine = Engine(settings)
    from bot.precedents.space import PrecedentSpace

    services = Services(settings=settings, db=db, engine=engine, city=load_city(settings.knowledge_dir),
                        staff=StaffDirectory(settings, client), client=client, deduper=EventDeduper(db),
                        precedents=PrecedentSpace(settings))
    executor = TrackedExecutor(LISTENER_THREADS)
    app = App(client=client, signing_secret=settings.slack_signing_secret,
              request_verification_enabled=bool(settings.slack_signing_secret), process_before_response=False,
              logger=_bolt_logger(), name="ppp-desk", listener_executor=executor)
    setattr(app, _SERVICES_ATTR, services)
    answers.register(app, services)
    features = _register_features(app, services)
    fallbacks.register_fallbacks(app, services)
    services.answers.start()  # delivers what a previous run left and answers what it left unanswered
    log.info(kv("slack_app_built", features=",".join(features) or "-", socket_mode=socket_mode))
    return app


def check_slack(client: WebClient, settings: Settings) -> None:
    """Fail at start-up, with one line naming the setting, when Slack cannot be used.

    Bolt's own token check would raise a long traceback from deep inside the SDK instead.
    """
    quiet = logging.getLogger("bot.slack.startup_check")  # the SDK's per-attempt errors would bury our one line
    quiet.setLevel(logging.CRITICAL)
    quiet.propagate = False
    probe = WebClient(token=client.token, base_url=client.base_url, timeout=10, retry_handlers=retry_handlers(),
                      logger=quiet)
    try:
        probe.auth_test()
    except SlackApiError as exc:
        status = getattr(exc.response, "status_code", 200)
        if status == 200:
            raise StartupError(f"SLACK_BOT_TOKEN was refused by Slack ({error_code(exc.response.get('error'))})") from exc
        raise StartupError(f"the Slack Web API at SLACK_API_URL={settings.slack_api_url} answered HTTP {status}") from exc
    except Exception as exc:  # noqa: BLE001 - connection refused, DNS, TLS, timeouts
        reason = getattr(exc, "reason", None) or exc
        raise StartupError(f"the Slack Web API at SLACK_API_URL={settings.slack_api_url} is unreachable "
                           f"({type(reason).__name__}: {str(reason)[:120]})") from exc


def stop_background(app: App, timeout: float = 5.0) -> None:
    """Stop every feature's background threads (Services.stop; what they hold stays queued)."""
    services = getattr(app, _SERVICES_ATTR, None)
    if services is not None:
        services.stop(timeout)


def context_of(app: App) -> Services:
    """The application object ``build_app`` gave the app's features (``KeyError`` for another app)."""
    try:
        return getattr(app, _SERVICES_ATTR)
    except AttributeError:
        raise KeyError("not an app made by build_app") from None


def wait_idle(app: App, timeout: float | None = None) -> bool:
    """Wait until every ack function and lazy listener of ``app`` has finished."""
    executor = app.listener_runner.listener_executor
    return executor.wait_idle(timeout) if isinstance(executor, TrackedExecutor) else True


def warm_up(app: App) -> None:
    """Load the engine's model and indexes before the first question (not on a business's time)."""
    ctx = context_of(app)
    try:
        ctx.ask(ctx.city.suggested_prompts[0] if ctx.city.suggested_prompts else "提案")
    except Exception as exc:  # noqa: BLE001 - a cold engine still answers later; say so and go on
        log.warning(kv("warm_up_failed", error=type(exc).__name__))
