"""Thread-safe counters of what the sandbox saw."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from .limits import DROP


class SandboxStats:
    """Counters shared by the handler threads; read them with snapshot() while serving."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.accepted_batches = 0  # accepted requests; a single /v1/track post counts as one
        self.accepted_messages = 0
        self.rejected_requests = 0  # every request not accepted, injected faults included
        self.dropped = 0
        self.connections = 0
        self.statuses: Counter[int] = Counter()
        self.message_ids: Counter[str] = Counter()  # recording mode only

    def _connected(self) -> None:
        with self._lock:
            self.connections += 1

    def _answered(
        self,
        status: int,
        messages: int = 0,
        ids: list[str] | None = None,
        accepted: bool | None = None,
    ) -> None:
        """Count an answer; `accepted` defaults to whether the status is 200."""
        with self._lock:
            self.requests += 1
            if status == DROP:
                self.dropped += 1
                self.rejected_requests += 1
                return
            self.statuses[status] += 1
            if accepted is None:
                accepted = status == 200
            if accepted:
                self.accepted_batches += 1
                self.accepted_messages += messages
                if ids:
                    self.message_ids.update(ids)
            else:
                self.rejected_requests += 1

    def duplicates(self) -> dict[str, int]:
        with self._lock:
            return {mid: n for mid, n in self.message_ids.items() if n > 1}

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "accepted_batches": self.accepted_batches,
                "accepted_messages": self.accepted_messages,
                "rejected_requests": self.rejected_requests,
                "dropped": self.dropped,
                "connections": self.connections,
                "statuses": dict(self.statuses),
                "unique_message_ids": len(self.message_ids),
                "duplicate_messages": sum(n - 1 for n in self.message_ids.values() if n > 1),
            }
