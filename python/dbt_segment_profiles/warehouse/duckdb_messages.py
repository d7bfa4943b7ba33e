"""DuckDB writes most of each message itself, vectorised, for the mappings simple enough.

The runner then only adds the messageId and the constant tail. Every row DuckDB cannot judge
(no id, a required field missing, NaN or infinity) is flagged and goes through the Python
builder, which stays the reference: a test checks both give the same messages.

DECIMAL, HUGEINT and UHUGEINT values go out as the builder sends them: their exact digits, as
DuckDB prints them. `json_object` cannot carry them (it drops a DECIMAL's trailing zeros, and
JSON cast from text is re-read as a double), so a body holding one is concatenated from each
entry's JSON text instead.
"""

from __future__ import annotations

from typing import NamedTuple

import orjson

from ..mappings import Mapping, ObjectSource, Source
from ..messages.values import ValueProblem, to_id, to_json, to_timestamp
from .base import SqlMessages, quote

MAX_TRAITS = 300
_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"}
_WIDE_INTEGERS = {"HUGEINT", "UHUGEINT"}
_INTEGERS |= {"UBIGINT"} | _WIDE_INTEGERS
_TIMESTAMPS = {"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"}
_ISO = "'%Y-%m-%dT%H:%M:%S.%gZ'"
_ID_FIELDS: dict[str, tuple[str, ...]] = {
    "identify": (),
    "group": ("group_id",),
    "track": ("event_name",),
}
_BODY = {"identify": "traits", "group": "traits", "track": "properties"}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _temporal(expression: str, kind: str) -> str | None:
    if kind == "DATE" or kind in _TIMESTAMPS:
        return f"strftime({expression}, {_ISO})"
    if kind == "TIMESTAMP WITH TIME ZONE":
        return f"strftime(timezone('UTC', {expression}), {_ISO})"
    return None


def _id_sql(source: Source, types: dict[str, str], field: str) -> str | None:
    """An id as text, NULL when NULL or empty (as the builder reads ids); None: not here."""
    if source.column is None:
        try:
            value = to_id(source.constant, "constant", field)
        except ValueProblem:
            return None
        return "null" if value is None else _literal(value)
    column, kind = quote(source.column), types.get(source.column, "")
    if kind == "VARCHAR":
        return f"nullif(p.{column}, '')"
    if kind in _INTEGERS:
        return f"cast(p.{column} as varchar)"
    return None


class _Value(NamedTuple):
    sql: str  # the value, for json_object
    text: str  # its JSON text (NULL for NULL), for a concatenated body
    python_if: str | None  # the condition that sends the row to Python
    exact: bool  # only its text carries it exactly


def _exact_number(kind: str) -> bool:
    return kind in _WIDE_INTEGERS or kind.startswith("DECIMAL(")


def _value_sql(source: Source, types: dict[str, str]) -> _Value | None:
    """A trait's JSON value, or None when only the Python builder can write it."""
    if source.column is None:
        try:
            value = to_json(source.constant, "constant")
            text = orjson.dumps(value).decode()
        except (ValueProblem, TypeError):
            return None
        exact = isinstance(value, orjson.Fragment)  # an integer wider than 64 bits
        return _Value(f"cast({_literal(text)} as json)", _literal(text), None, exact)
    column, kind = f"p.{quote(source.column)}", types.get(source.column, "")
    if _exact_number(kind):
        # DuckDB prints DECIMALs in plain notation with their scale, as the builder does
        return _Value(column, f"cast({column} as varchar)", None, True)
    if kind == "VARCHAR" or kind == "BOOLEAN" or kind in _INTEGERS:
        sql, condition = column, None
    elif kind in ("DOUBLE", "FLOAT"):
        # a FLOAT reaches Python as the double nearest it: print that double too
        sql, condition = f"cast({column} as double)", f"not isfinite({column})"
    else:
        temporal = _temporal(column, kind)
        if temporal is None:
            return None
        sql, condition = temporal, None
    return _Value(sql, f"cast(to_json({sql}) as varchar)", condition, False)


def _body_sql(entries: list[tuple[str, _Value]]) -> str:
    """The body object as text, in the order of `entries`."""
    if not entries:
        return "'{}'"
    if not any(value.exact for _, value in entries):
        pairs = ", ".join(f"{_literal(name)}, {value.sql}" for name, value in entries)
        return f"cast(json_object({pairs}) as varchar)"
    pieces = [
        f"{_literal(orjson.dumps(name).decode() + ':')} || coalesce({value.text}, 'null')"
        for name, value in entries
    ]
    return "'{' || " + " || ',' || ".join(pieces) + " || '}'"


def sql_messages(mapping: Mapping, types: dict[str, str]) -> SqlMessages | None:
    """The SQL for this mapping's messages, or None when the Python builder must do them all."""
    action = mapping.action
    fields = mapping.fields
    if action not in _BODY or {"consent", "message_id"} & set(fields):
        return None
    if action == "track" and "group_id" in fields:
        return None
    parts = [_literal('{"type":"' + action + '"')]
    conditions: list[str] = []
    ids: dict[str, str] = {}
    for field, key in (("user_id", "userId"), ("anonymous_id", "anonymousId")):
        source = fields.get(field)
        if isinstance(source, Source):
            sql = _id_sql(source, types, field)
            if sql is None:
                return None
            ids[key] = sql
    if not ids:
        return None
    conditions.append(" and ".join(f"{sql} is null" for sql in ids.values()))
    for key, sql in ids.items():
        parts.append(f"coalesce(',\"{key}\":' || cast(to_json({sql}) as varchar), '')")
    for field in _ID_FIELDS[action]:
        source = fields.get(field)
        if not isinstance(source, Source):
            return None
        sql = _id_sql(source, types, field)
        if sql is None:
            return None
        conditions.append(f"{sql} is null")
        key = "event" if field == "event_name" else "groupId"
        parts.append(f"',\"{key}\":' || cast(to_json({sql}) as varchar)")
    if action == "identify" and isinstance(fields.get("group_id"), Source):
        sql = _id_sql(fields["group_id"], types, "group_id")
        if sql is None:
            return None
        parts.append(f"coalesce(',\"groupId\":' || cast(to_json({sql}) as varchar), '')")
    body = fields.get(_BODY[action])
    entries: list[tuple[str, _Value]] = []
    if isinstance(body, ObjectSource):
        if body.column is not None or len(body.entries) >= MAX_TRAITS:
            return None
        for name, source in body.entries:
            value = _value_sql(source, types)
            if value is None:
                return None
            entries.append((name, value))
            if value.python_if:
                conditions.append(value.python_if)
    parts.append(f"',\"{_BODY[action]}\":' || {_body_sql(entries)}")
    timestamp = fields.get("timestamp")
    if isinstance(timestamp, Source):
        if timestamp.column is None:
            try:
                value = to_timestamp(timestamp.constant, "constant")
            except ValueProblem:
                return None
            sql = "null" if value is None else _literal(value)
        else:
            sql = _temporal(f"p.{quote(timestamp.column)}", types.get(timestamp.column, ""))
            if sql is None:
                return None
        parts.append(f"coalesce(',\"timestamp\":' || cast(to_json({sql}) as varchar), '')")
    needs_python = " or ".join(f"({c})" for c in conditions)
    return SqlMessages(json=" || ".join(parts), needs_python=f"coalesce({needs_python}, false)")
