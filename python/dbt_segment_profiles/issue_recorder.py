"""Recording rejected and failed rows on a thread of their own, a call at a time."""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence

from .mappings import Mapping
from .warehouse import RecordIssue, Warehouse

_DONE: list[RecordIssue] = []


class IssueRecorder:
    """Records issues while the sync goes on building and sending.

    The warehouse writes each call's rows with the GIL released, so the chunk after it is
    built meanwhile. One call records while at most one more waits: a sync that records
    faster than the warehouse can take waits here, holding two calls' rows and no more.
    """

    def __init__(self, warehouse: Warehouse, mapping: Mapping, all_new: bool) -> None:
        self.warehouse = warehouse
        self.mapping = mapping
        self.all_new = all_new
        self.error: BaseException | None = None
        self._queue: queue.Queue[Sequence[RecordIssue]] = queue.Queue(1)
        self._thread = threading.Thread(
            target=self._run, name=f"record-issues-{mapping.name}", daemon=True
        )
        self._thread.start()

    def put(self, issues: Sequence[RecordIssue]) -> None:
        """Hand over one call's issues (the recorder keeps the sequence: pass a copy)."""
        if issues:
            self._queue.put(issues)

    def close(self) -> None:
        """Wait until every call handed over is recorded; raise if one could not be."""
        self._queue.put(_DONE)
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while True:
            issues = self._queue.get()
            if issues is _DONE:
                return
            if self.error is None:
                try:
                    self.warehouse.record_issues(self.mapping, issues, self.all_new)
                except BaseException as error:  # reported by close(); the rows stay pending
                    self.error = error
