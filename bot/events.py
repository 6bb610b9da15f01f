"""In-process hooks between features that must not import each other.

Records announce what happened (``record_saved``, ``record_deleted``); precedents listen and keep
their internal index current, and answer ``similar_precedents`` queries for intake cards.  Slack
entry points owned by one feature but started from another surface (``open_draft``: the
「提案の下書きを作成」 button or ``/ppp draft``) go through here too.  A missing listener is not an
error: the caller gets ``None`` / nothing happens, so each feature works on its own.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

_listeners: dict[str, list[Callable[..., Any]]] = defaultdict(list)
_lock = threading.Lock()


def subscribe(name: str, fn: Callable[..., Any]) -> None:
    """Register ``fn`` for ``name`` (idempotent for the same function)."""
    with _lock:
        if fn not in _listeners[name]:
            _listeners[name].append(fn)


def unsubscribe_all(name: str | None = None) -> None:
    """Forget listeners (tests build several apps in one process)."""
    with _lock:
        if name is None:
            _listeners.clear()
        else:
            _listeners.pop(name, None)


def publish(name: str, **payload: Any) -> None:
    """Tell every listener; a failing listener is logged and never breaks the publisher."""
    for fn in list(_listeners.get(name, ())):
        try:
            fn(**payload)
        except Exception:  # noqa: BLE001 - a listener's failure must not undo the caller's work
            log.exception("listener for %s failed", name)


def call(name: str, **payload: Any) -> Any | None:
    """Ask the first listener for a result; ``None`` when nobody listens."""
    fns = list(_listeners.get(name, ()))
    return fns[0](**payload) if fns else None


def has_listener(name: str) -> bool:
    return bool(_listeners.get(name))
