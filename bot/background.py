"""One daemon thread that runs a pass, waits, and runs the next, until it is stopped.

The outbox workers, the answers' recovery sweeper and the knowledge loop's maintenance all need the
same thread: started once (and again after a stop), woken early by :meth:`Loop.kick`, stopped
promptly by :meth:`Loop.stop` (which wakes it) and joined.  It is written once here so that they
agree on restart and shutdown; each owner only says what one pass does and how long to wait after
it.  A pass handles its own errors (each logs them in its own words): one that raises ends the
thread, so a pass never lets a database hiccup escape.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Loop:
    """Runs ``step`` on a daemon thread; ``step`` returns the seconds to wait before the next pass."""

    def __init__(self, step: Callable[[], float], name: str) -> None:
        self.step = step
        self.name = name
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.step()
            self._wake.wait(wait)
            self._wake.clear()

    def start(self, name: str | None = None) -> Loop:
        """Start the thread unless it runs; its first pass comes at once."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=name or self.name, daemon=True)
            self._thread.start()
        return self

    def kick(self) -> None:
        """Run the next pass now instead of after the wait."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current pass (long passes check :attr:`stopping`) and join the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called (until the next start)."""
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
