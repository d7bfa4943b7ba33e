"""Recording rejected and failed rows on a thread of their own, a call at a time."""

from __future__ import annotations

from collections.abc import Sequence

from .mappings import Mapping
from .warehouse import IssueRow, Warehouse
from .writer_thread import WriterThread

_DONE: Sequence[IssueRow] = []  # a list of its own: compared by identity


class IssueRecorder(WriterThread[Sequence[IssueRow]]):
    """Records issues while the sync goes on building and sending.

    The warehouse writes each call's rows with the GIL released, so the chunk after it is
    built meanwhile. One call records while at most one more waits: a sync that records
    faster than the warehouse can take waits here, holding two calls' rows and no more. The
    calls gather in the warehouse (IssueStage), and merge into the issues table in bulk.
    """

    def __init__(self, warehouse: Warehouse, mapping: Mapping, all_new: bool) -> None:
        self.warehouse = warehouse
        self.mapping = mapping
        self.all_new = all_new
        super().__init__(f"record-issues-{mapping.name}", 1, _DONE)

    def put(self, issues: Sequence[IssueRow]) -> None:
        """Hand over one call's issues (the recorder keeps the sequence: pass a copy)."""
        if issues:
            self._queue.put(issues)

    def _run(self) -> None:
        stage = self.warehouse.issue_stage(self.mapping, self.all_new)
        while True:
            issues = self._queue.get()
            if issues is _DONE:
                self._write(stage.close)
                return
            self._write(stage.add, issues)
