"""User-facing side of ppp-desk: answer engine, Slack app, records, CLI."""
