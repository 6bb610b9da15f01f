"""Operating the service: migrations, health checks (``doctor``), backup and restore.

These are the commands a city's IT staff run around ``serve``; each module has one job and
reads the one settings object.
"""
