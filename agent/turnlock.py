"""A lock for one turn at a time, which knows the thread holding it.

An Agent and a model backend each serve one turn (or one generation) at a time, and both are
held by generators: a stream holds its Agent, or its backend, until it is read to its end or
closed. A stream left open in a thread, followed by another call from that same thread, would
wait forever for a lock only that thread can let go of. ``TurnLock.hold`` says so instead,
with an error that names the fix; other threads wait their turn as with any lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class TurnLock:
    """``with lock.hold("what"):`` one holder at a time; the holding thread asking again
    raises ``error("what")`` rather than waiting on itself.

    >>> lock = TurnLock(lambda what: RuntimeError(f"still busy before {what}"))
    >>> with lock.hold("a"):
    ...     with lock.hold("b"):
    ...         pass
    Traceback (most recent call last):
    RuntimeError: still busy before b
    """

    def __init__(self, error: Callable[[str], Exception]) -> None:
        self._lock = threading.Lock()
        self._holder: int | None = None  # the thread id inside hold(), if any
        self._error = error

    @contextmanager
    def hold(self, what: str) -> Iterator[None]:
        me = threading.get_ident()
        if self._holder == me:
            raise self._error(what)
        with self._lock:
            self._holder = me
            try:
                yield
            finally:
                self._holder = None

    def wait_free(self, timeout: float) -> bool:
        """Whether the lock came free within ``timeout`` seconds (for tests and shutdowns)."""
        if not self._lock.acquire(timeout=timeout):
            return False
        self._lock.release()
        return True


__all__ = ["TurnLock"]
