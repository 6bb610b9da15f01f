"""Acks for what the manifest subscribes to but a feature package may not have registered."""

from __future__ import annotations

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.slack.answers.messages import open_draft
from bot.slack.services import Services
from bot.slack.texts import t


def register_fallbacks(app: App, ctx: Services) -> None:
    """Acks for what the manifest subscribes to but a feature module may not have registered yet.

    Registered after the feature modules, so a feature's own listener always wins; without these,
    Bolt would answer 404 and Slack would retry.
    """

    @app.event("app_home_opened")
    def _home_opened() -> None:
        return None

    @app.event("assistant_thread_context_changed")
    def _context_changed() -> None:
        return None

    @app.shortcut("draft_from_message")
    def _draft_shortcut(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        open_draft(ctx, body, client, "ja")

    @app.command("/ppp-precedents")
    def _precedents(ack: Ack) -> None:
        ack(text=t("ja", "feature_soon"))
