"""Dates and timestamps as ISO-8601 UTC text with milliseconds, written by the warehouse: how the
runner reads temporal columns for the Python builder, and how the SQL lane writes them into
messages. Shared by `warehouse/` and `messages/`, which do not import each other."""

from __future__ import annotations

_PG_TIMESTAMP = '\'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"\''
_PG_DATE = "'YYYY-MM-DD\"T00:00:00.000Z\"'"


def pg_iso_utc(expression: str, kind: str) -> str:
    """A Postgres date, timestamp or timestamptz (`kind`) as that text."""
    if kind == "date":
        return f"to_char({expression}, {_PG_DATE})"
    if kind == "timestamptz":
        expression = f"({expression} at time zone 'UTC')"
    return f"to_char({expression}, {_PG_TIMESTAMP})"
