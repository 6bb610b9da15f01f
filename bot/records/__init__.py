"""Draft proposal records: from a conversation to the desk's intake channel, screened and tracked.

Pure core (``fields``, ``prescreen``, ``validate``, ``extract``, ``blocks``), one transactional
service (``service``) with a Slack outbox (``outbox``), and thin edges (``slack``, ``cli``).
"""
