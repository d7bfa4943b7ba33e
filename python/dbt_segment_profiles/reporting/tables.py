"""Plain-text tables and times for people reading a terminal or a log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any


def utc(value: Any) -> Any:
    """A bookkeeping time as an ISO-8601 string with its zone. The tables store UTC without a
    zone, so a naive datetime is taken as UTC; anything that is not a datetime is kept."""
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


def utc_short(value: Any) -> str:
    """The same to the second, with `Z`: 2025-01-31T09:30:00Z."""
    if not isinstance(value, datetime):
        return "-" if value is None else str(value)
    return utc(value.replace(microsecond=0)).replace("+00:00", "Z")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: set[int]) -> list[str]:
    """Aligned columns, two spaces apart: numbers (the columns in `numeric`) to the right."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return [
        "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))
        ).rstrip()
        for row in cells
    ]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
