"""A thread that writes to the warehouse what the sync hands it, behind a bounded queue."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")


class WriterThread(Generic[Item]):
    """Takes items from a queue of `max_queued` on a daemon thread (`_run`); the first error
    stops the writes and is raised by `close`, which waits for what was handed over."""

    def __init__(self, name: str, max_queued: int, done: Item) -> None:
        self.error: BaseException | None = None
        self._done = done
        self._queue: queue.Queue[Item] = queue.Queue(max_queued)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Wait until everything handed over is written; raise if some of it could not be."""
        self._queue.put(self._done)
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _write(self, write: Callable[..., None], *args: Any) -> None:
        """One write, unless an earlier one failed: the first error is kept for `close`, and
        what is handed over after it is taken off the queue unwritten (its rows stay pending)."""
        if self.error is None:
            try:
                write(*args)
            except BaseException as error:
                self.error = error

    def _run(self) -> None:
        raise NotImplementedError
