"""Progress of a sync, one mapping at a time: rows settled per second since the mapping started.

A row is settled once Segment (or the checks before sending) has judged it: acknowledged,
rejected or failed. The rate counts all three, and the line says how many of each, so a run of
failures never reads as fast progress. No rate is given before `MIN_ELAPSED` seconds: over a
shorter time it says more about the clock than about the sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MIN_ELAPSED = 1.0
NO_VALUE = "—"


@dataclass
class _Mapping:
    result: Any  # the mapping's MappingResult: a new object is a new mapping's sync
    started: float
    base: int  # rows already settled when the start was seen
    settled: int = 0
    total: int = 0
    seen: float = 0.0  # when the last count arrived
    printed: float | None = None
    finished: bool = False


@dataclass(frozen=True)
class ProgressLine:
    mapping: str
    settled: int
    total: int
    acknowledged: int
    rejected: int
    failed: int
    elapsed: float
    rate: float | None  # rows settled per second; None before MIN_ELAPSED
    final: bool

    @property
    def eta(self) -> float | None:
        if self.final or not self.rate:
            return None
        return max(self.total - self.settled, 0) / self.rate

    def text(self) -> str:
        """One line for a log: counts by outcome, rate, ETA (or the time taken, at the end)."""
        counts = f"{self.settled:,}/{self.total:,} settled ({_outcomes(self)})"
        if self.final:
            how = "done" if self.settled >= self.total else "stopped"
            return (
                f"{self.mapping}: {how}, {counts} in {self.elapsed:.1f}s, "
                f"{_rate(self.rate)} rows/s"
            )
        return f"{self.mapping}: {counts}, {_rate(self.rate)} rows/s, ETA {_seconds(self.eta)}"

    def bar(self, width: int = 30) -> str:
        """The same for a terminal, redrawn in place."""
        share = self.settled / self.total if self.total else 1.0
        filled = "#" * int(min(share, 1.0) * width)
        trouble = [f"{n:,} {what}" for what, n in _problems(self) if n]
        tail = f", {', '.join(trouble)}" if trouble else ""
        when = f"in {self.elapsed:.1f}s" if self.final else f"ETA {_seconds(self.eta)}"
        return (
            f"{self.mapping}: [{filled:<{width}}] {self.settled:,}/{self.total:,} "
            f"{_rate(self.rate)} rows/s {when}{tail}"
        )


class ProgressMeter:
    """Decides, from the counts the sync reports, which progress lines to print and when.

    Every mapping gets a line when its first counts arrive and one when it is done (all its
    pending rows settled, or `update(..., finished=True)`); in between, at most one per
    `interval` seconds. Times are passed in (seconds on a monotonic clock): the meter never reads
    a clock.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._current: _Mapping | None = None

    def start(self, result: Any, total: int, now: float) -> list[ProgressLine]:
        """The mapping starts sending now: its rate counts from here. The lines to print: the
        previous mapping's last one, if it was not finished."""
        lines: list[ProgressLine] = []
        self._enter(result, now, lines).total = total
        return lines

    def update(
        self, result: Any, total: int, now: float, *, finished: bool = False
    ) -> list[ProgressLine]:
        """The lines to print after new counts: none, one, or, when the sync moved on to
        another mapping without finishing the previous one, that one's last line first.
        `finished`: the mapping is over, whether or not every row was settled."""
        lines: list[ProgressLine] = []
        state = self._current
        if state is None or state.result is not result:
            # without a start, the first counts mark it: the rate is over the rows after them
            state = self._enter(result, now, lines)
        if state.finished:
            return lines
        state.settled, state.total, state.seen = _settled(result), total, now
        final = finished or state.settled >= total
        if final or state.printed is None or now - state.printed >= self.interval:
            lines.append(self._line(state, now, final))
        return lines

    def _enter(self, result: Any, now: float, lines: list[ProgressLine]) -> _Mapping:
        previous = self._current
        if previous is not None and previous.result is not result and not previous.finished:
            lines.append(self._line(previous, previous.seen, final=True))
        self._current = _Mapping(result, now, _settled(result), seen=now)
        return self._current

    def _line(self, state: _Mapping, now: float, final: bool) -> ProgressLine:
        state.printed, state.finished = now, final
        elapsed = max(now - state.started, 0.0)
        rate = (state.settled - state.base) / elapsed if elapsed >= MIN_ELAPSED else None
        result = state.result
        return ProgressLine(
            mapping=result.mapping,
            settled=state.settled,
            total=state.total,
            acknowledged=result.acknowledged,
            rejected=result.rejected,
            failed=result.failed,
            elapsed=elapsed,
            rate=rate,
            final=final,
        )


def _settled(result: Any) -> int:
    return result.acknowledged + result.rejected + result.failed


def _problems(line: ProgressLine) -> list[tuple[str, int]]:
    return [("rejected", line.rejected), ("failed", line.failed)]


def _outcomes(line: ProgressLine) -> str:
    parts = [f"{line.acknowledged:,} acknowledged"]
    parts += [f"{n:,} {what}" for what, n in _problems(line) if n]
    return ", ".join(parts)


def _rate(rate: float | None) -> str:
    if rate is None:
        return NO_VALUE
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:.1f}"


def _seconds(seconds: float | None) -> str:
    return NO_VALUE if seconds is None else f"{seconds:,.0f}s"
