"""Warehouse values -> JSON values, with a reason naming the column for anything JSON cannot carry.

Converters raise `ValueProblem`; the builder turns it into a `Rejection`. Raising keeps the common
path (nothing wrong) free of result checks.
"""

from __future__ import annotations

import numbers
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson

# orjson writes integers in the signed/unsigned 64-bit range and refuses anything wider.
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1
# Decimal.adjusted() from which a decimal may be beyond a double's range (about 1.8e308).
_DOUBLE_DIGITS = 308
# Below Decimal.adjusted() -64 a decimal is written in exponent notation, not with 64+ zeros.
_PLAIN_ZEROS = 64
REPR_LIMIT = 80


class ValueProblem(Exception):
    """A value that cannot go into a message; `reason` names the column and the value."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def describe(value: Any) -> str:
    """A short, readable rendering of a value for a rejection reason."""
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, Decimal) and not value.is_finite():
        return "NaN" if value.is_nan() else ("Infinity" if value > 0 else "-Infinity")
    try:
        text = repr(value)
    except Exception:  # e.g. RecursionError for absurdly deep nesting
        text = f"<{type(value).__name__}>"
    return text if len(text) <= REPR_LIMIT else text[: REPR_LIMIT - 3] + "..."


def iso_utc(value: datetime | date) -> str:
    """ISO-8601 in UTC with milliseconds and "Z"; naive datetimes are UTC, dates are midnight."""
    if not isinstance(value, datetime):
        return f"{value.isoformat()}T00:00:00.000Z"
    if value.tzinfo is None:
        return value.isoformat(timespec="milliseconds") + "Z"
    offset = value.utcoffset()
    if offset is not None:
        # Subtracting the offset (not astimezone) keeps naive arithmetic exact and fast.
        value = value - offset
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def _datetime(value: datetime | date, column: str) -> str:
    try:
        return iso_utc(value)
    except OverflowError:
        raise ValueProblem(
            f"column {column} has value {describe(value)}, which is out of range in UTC"
        ) from None


def _not_json(value: Any, column: str) -> ValueProblem:
    return ValueProblem(f"column {column} has value {describe(value)}, which JSON cannot carry")


def _float(value: float, column: str) -> float:
    if value - value == 0:  # false for NaN and both infinities
        return value
    raise _not_json(value, column)


def _too_large(value: Any, column: str) -> ValueProblem:
    return ValueProblem(
        f"column {column} has value {describe(value)}, which is too large for a JSON number"
    )


def _big_int(value: int, column: str) -> orjson.Fragment:
    # Wider than orjson writes: its exact digits, spliced into the JSON as they are. Beyond a
    # double's range Segment could not read the number at all, so the row is rejected.
    try:
        float(value)
    except OverflowError:
        raise _too_large(value, column) from None
    return orjson.Fragment(str(value))


def _decimal(value: Decimal, column: str) -> orjson.Fragment:
    """The decimal's own digits as a JSON number, scale included (NUMERIC(10,2) 12.50 -> 12.50),
    in plain notation as warehouses print it; NaN, infinities and numbers beyond a double's range
    raise ValueProblem."""
    if not value.is_finite():
        raise _not_json(value, column)
    exponent = value.adjusted()
    if exponent >= _DOUBLE_DIGITS and float(value) - float(value) != 0:
        raise _too_large(value, column)
    # Exponent notation (valid JSON) only where plain notation would spell out absurdly many
    # zeros, e.g. 1E-400, which no warehouse column holds.
    text = format(value, "f") if exponent >= -_PLAIN_ZEROS else str(value)
    return orjson.Fragment(text)


def _int(value: int, column: str) -> int | orjson.Fragment:
    return value if _INT_MIN <= value <= _INT_MAX else _big_int(value, column)


def _same(value: Any, column: str) -> Any:
    return value


def to_json(value: Any, column: str) -> Any:
    """A warehouse value as a JSON-serialisable value; raises ValueProblem when it can't be."""
    convert = _BY_TYPE.get(type(value))
    return convert(value, column) if convert is not None else _other(value, column)


def _other(value: Any, column: str) -> Any:
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return to_json(int(value), column)
    if isinstance(value, float):
        return _float(float(value), column)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Decimal):
        return _decimal(value, column)
    if isinstance(value, (datetime, date)):
        return _datetime(value, column)
    if isinstance(value, time):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_json(v, column) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v, column) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise ValueProblem(f"binary column {column} cannot be sent")
    if isinstance(value, numbers.Integral):
        return to_json(int(value), column)
    if isinstance(value, numbers.Real):
        return _float(float(value), column)
    if isinstance(value, timedelta):
        raise ValueProblem(
            f"column {column} has value {describe(value)}; intervals cannot be sent, "
            "convert them to a number or a string in the model"
        )
    raise ValueProblem(
        f"column {column} has value {describe(value)} of type {type(value).__name__}, "
        "which cannot be sent"
    )


# exact types first: one dict lookup per value instead of a chain of isinstance checks
_BY_TYPE: dict[type, Any] = {
    str: _same,
    bool: _same,
    type(None): _same,
    int: _int,
    float: _float,
    datetime: _datetime,
    date: _datetime,
    Decimal: _decimal,
}


def to_id(value: Any, column: str, field: str) -> str | None:
    """An identifier (user_id, group_id, event name, ...) as a string; None when NULL or empty."""
    kind = type(value)
    if kind is str:
        return value or None
    if value is None:
        return None
    if kind is int:
        return str(value)
    if isinstance(value, bool):
        raise ValueProblem(
            f"column {column} has value {describe(value)}, which cannot be used as {field}"
        )
    if isinstance(value, str):
        return str(value) or None
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, float):
        return repr(_float(float(value), column))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise _not_json(value, column)
        # Plain notation, unless that would spell out an absurd number of zeros.
        return format(value, "f") if abs(value.adjusted()) <= 64 else str(value)
    if isinstance(value, (datetime, date)):
        return _datetime(value, column)
    if isinstance(value, UUID):
        return str(value)
    raise ValueProblem(
        f"column {column} has value {describe(value)}, which cannot be used as {field}"
    )


_ISO_UTC_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def to_timestamp(value: Any, column: str) -> str | None:
    """A timestamp as ISO-8601 UTC with milliseconds; None when NULL or empty."""
    if value is None:
        return None
    if type(value) is str and _ISO_UTC_MS.fullmatch(value):
        # already in the form sent (the warehouse formats timestamp columns itself)
        return value
    if isinstance(value, (datetime, date)):
        return _datetime(value, column)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text[-1] in "Zz":
            # Python 3.10's fromisoformat does not read "Z".
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
        if parsed is not None:
            return _datetime(parsed, column)
    raise ValueProblem(
        f"column {column} has value {describe(value)}, which is not a date, a timestamp "
        "or an ISO-8601 string"
    )


def to_object(value: Any, column: str, field: str) -> dict[str, Any] | None:
    """An object-valued column (a dict, or a JSON string holding an object); None when NULL."""
    if value is None:
        return None
    parsed = value
    if isinstance(value, str):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            parsed = None
    if not isinstance(parsed, dict):
        raise ValueProblem(
            f"column {column} has value {describe(value)}, which is not an object "
            f"(needed for {field})"
        )
    return {str(k): to_json(v, column) for k, v in parsed.items()}
