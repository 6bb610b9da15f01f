"""App Home: the staff queue for staff, a business's own drafts and records for everyone else."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from bot.records import blocks as rb
from bot.records.fields import OPEN_STATUSES
from bot.records.slack.runtime import RecordsRuntime


def publish_home(rt: RecordsRuntime, client: WebClient, user: str) -> None:
    """App Home: the staff queue for staff, a business's own records for everyone else."""
    staff = bool(rt.is_staff and rt.is_staff(user, client))
    if staff:
        counts = rt.service.counts()
        queue = {s: list(reversed(rt.service.list(status=s, limit=50))) for s in OPEN_STATUSES}
        own = rt.service.list(proposer=user, status="draft")
        view = rb.home_staff(counts, queue, own)
    else:
        records = rt.service.list(proposer=user, include_drafts=True, limit=50)
        langs = {r.language for r in records}
        view = rb.home_business(records, "en" if langs == {"en"} else "ja")
    extra = rt.home_sections(user, client) if rt.home_sections else []
    view["blocks"] = view["blocks"][:100 - len(extra)] + extra  # Slack allows 100 blocks in a view
    client.views_publish(user_id=user, view=view)


def register(app: App, rt: RecordsRuntime) -> None:
    """Publish the Home tab whenever it is opened."""

    @app.event("app_home_opened")
    def home_opened(event: dict, client: WebClient) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        publish_home(rt, client, event["user"])
