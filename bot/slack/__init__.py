"""Slack surface: Bolt app, listeners, Block Kit rendering, serving."""
