"""The answers feature: questions in (DMs, mentions, Assistant threads, ``/ppp``), answers out, buttons.

``register(app, services)`` installs the intake middleware (questions are stored before the ack),
starts the durable answer path (``services.answers``) and registers the listeners of
:mod:`.messages`, :mod:`.buttons` and :mod:`.handoff`.
"""

from __future__ import annotations

from slack_bolt import App

from bot.slack import intake
from bot.slack.answering import AnswerService
from bot.slack.answers import buttons, messages
from bot.slack.services import Services


def register(app: App, services: Services) -> AnswerService:
    """Wire the answers feature; recovered questions run on the app's listener pool."""
    services.answers = AnswerService(services, app.listener_runner.listener_executor)
    intake.register(app, services.answers)  # before any listener: questions are stored before the ack
    messages.register(app, services)
    buttons.register(app, services)
    return services.answers
