"""The desk teaches the bot: questions logged with their outcome, gaps grouped by meaning, staff
answers approved into the public knowledge, and the figures of the desk's reports."""
