"""Process-local event counters (failed publishes, dropped announcements), safe across threads."""

import threading


class Counter:
    """A count that only goes up; `value` is read by health checks, logs and tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def increment(self) -> None:
        with self._lock:
            self.value += 1
