"""The SQL lane: the warehouse writes each message whole, messageId included, vectorised,
following the mapping's plan; the runner sends the text it reads.

Per row the lane gives the message, the rejection reason when SQL can tell (Segment's or the
builder's exact text), and whether the Python builder must judge the row instead. The builder
stays the reference: every row the lane cannot render exactly (NaN, infinities, text where SQL's
and Python's lower/trim could differ) is flagged, and tests check both give the same bytes.

DECIMAL, HUGEINT and UHUGEINT values go out as the builder sends them: their exact digits, as
DuckDB prints them. `json_object` cannot carry them (it drops a DECIMAL's trailing zeros, and
JSON cast from text is re-read as a double), so a body holding one is concatenated from each
entry's JSON text instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import orjson

from .message_id import ChangeSql, message_id_sql
from .plan import MAX_TRAITS, MESSAGE_TAIL_OPEN, EntrySpec, MessagePlan, ScalarSpec
from .sql_dialect import DIALECTS, DuckDBDialect
from .sql_subscriptions import subscription_sql
from .sql_types import nested_leaves
from .subscriptions import MISSING_USER_ID
from .values import ValueProblem, to_timestamp

SqlDialect = DuckDBDialect  # the interface every dialect follows
# the pending table's columns a messageId is derived from (written by the capture's macro
# macros/capture/pending_from_changes_sql.sql)
PENDING_CHANGE = ChangeSql("p.__sp_op", "p.__sp_hash", "p.__sp_version", "p.__sp_key")


@dataclass(frozen=True)
class SqlLane:
    """SQL expressions over the pending table (aliased `p`), for `Warehouse.stream_pending`."""

    message: str  # the whole message as text (read only when reason is NULL)
    reason: str  # why the row is rejected, or NULL
    needs_python: str  # true for rows only the Python builder may judge
    # (name, expression over `p`) computed once per row before the expressions above, which
    # read them as `p.<name>`: for a dialect that computes each repeated expression anew
    lets: tuple[tuple[str, str], ...] = ()


class _Value(NamedTuple):
    sql: str  # the value, for json_object
    text: str  # its JSON text (NULL for NULL), for a concatenated body
    python_if: str | None  # the condition that sends the row to Python
    exact: bool  # only its text carries it exactly
    lets: tuple[tuple[str, str], ...] = ()  # what `text` reads, computed once per row


def lane_for(plan: MessagePlan, dialect_name: str | None) -> SqlLane | None:
    """The lane of `plan` in the named warehouse dialect, or None when the Python builder
    builds every message (no lane for the warehouse, or a field the lane does not render)."""
    dialect = DIALECTS.get(dialect_name or "")
    return None if dialect is None else sql_lane(plan, dialect)


def _value_sql(entry: EntrySpec, dialect: SqlDialect, name: str) -> _Value | None:
    """A body entry's JSON value, or None when only the Python builder can write it; `name`:
    what a value it computes once per row may be named."""
    if entry.column is None:
        try:
            text = orjson.dumps(entry.constant).decode()
        except (ValueProblem, TypeError):
            return None
        exact = isinstance(entry.constant, orjson.Fragment)  # wider than 64 bits, a decimal
        literal = dialect.literal(text)
        return _Value(f"cast({literal} as json)", literal, None, exact)
    column, kind = dialect.column(entry.column), entry.kind
    if dialect.is_exact_number(kind):
        text = dialect.exact_number_text(column, kind)
        return _Value(column, text, dialect.exact_number_python_if(column, kind), True)
    if dialect.is_string(kind) or dialect.is_boolean(kind) or dialect.is_integer(kind):
        sql = column
    elif dialect.is_double(kind):
        sql = dialect.double(column)
        return _Value(sql, dialect.double_text(sql), dialect.not_finite(column), False)
    else:
        json_value = dialect.json_column(column, kind, name)
        if json_value is not None:
            return _Value(column, json_value.text, json_value.python_if, True, json_value.lets)
        leaves = nested_leaves(kind)
        if leaves is not None:
            if not all(dialect.nested_leaf_ok(leaf) for leaf in leaves):
                return None
            # written as text: json_object would re-read it
            condition = dialect.nested_python_if(column, kind)
            return _Value(column, dialect.json_text(column), condition, True)
        temporal = dialect.temporal(column, kind)
        if temporal is None:
            return None
        # ISO text is digits, '-', ':', '.', 'T' and 'Z': quoted, it is its JSON, and the
        # quotes cost less than to_json (0.15 s per 1,000,000 rows on Postgres); || keeps NULL
        return _Value(temporal, f"'\"' || {temporal} || '\"'", None, False)
    return _Value(sql, dialect.json_text(sql), None, False)


def _body_sql(entries: list[tuple[str, _Value]], dialect: SqlDialect) -> str:
    """The body object as text, in the order of `entries`."""
    if not entries:
        return "'{}'"
    if not any(value.exact for _, value in entries):
        pairs = ", ".join(f"{dialect.literal(name)}, {value.sql}" for name, value in entries)
        body = dialect.json_object(pairs)
        if body is not None:
            return body
    pieces = [dialect.literal("{")]
    for number, (name, value) in enumerate(entries):
        comma = "," if number else ""
        pieces += [dialect.literal(f"{comma}{orjson.dumps(name).decode()}:")]
        pieces += [f"coalesce({value.text}, 'null')"]
    return dialect.concat(*pieces, dialect.literal("}"))


def _id(spec: ScalarSpec | None, field: str, dialect: SqlDialect) -> str | None:
    if spec is None:
        return None
    return dialect.id_text(spec.column, spec.kind, spec.constant, field)


def _missing(field: str, spec: ScalarSpec, dialect: SqlDialect) -> str:
    """The builder's reason for a required field that is NULL or empty."""
    if spec.column is None:
        return dialect.literal(f"Missing required field {field} (not mapped)")
    prefix = dialect.literal(f"Missing required field {field} (column {spec.column} is ")
    state = f"case when {dialect.column(spec.column)} is null then 'NULL' else 'empty' end"
    return f"{prefix} || {state} || ')'"


def _timestamp_sql(spec: ScalarSpec, dialect: SqlDialect) -> str | None:
    if spec.column is None:
        try:
            value = to_timestamp(spec.constant, "constant")
        except ValueProblem:
            return None
        return dialect.text_constant(value)
    return dialect.temporal(dialect.column(spec.column), spec.kind)


def sql_lane(plan: MessagePlan, dialect: SqlDialect) -> SqlLane | None:
    """The lane of `plan`'s messages, or None when the Python builder must build them all."""
    scalars, objects = plan.scalars, plan.objects
    if "message_id" in scalars or "consent" in objects:
        return None
    parts = [dialect.literal('{"type":"' + plan.message_type + '"')]
    python_if: list[str] = []
    reasons: list[tuple[str, str]] = []  # (condition, reason), in the builder's order
    contexts: list[str] = []
    lets: list[tuple[str, str]] = []
    if plan.action == "subscriptions":
        found = subscription_sql(plan, dialect)
        if found is None:
            return None
        python_if += found.python_if
        reasons += found.reasons
        contexts.append(found.context)
        lets += found.lets
    ids: dict[str, str] = {}
    for field, key in (("user_id", "userId"), ("anonymous_id", "anonymousId")):
        if field in scalars:
            sql = _id(scalars[field], field, dialect)
            if sql is None:
                return None
            ids[key] = sql
    if not ids:
        return None  # every row is rejected: the builder says so
    no_user = " and ".join(f"{sql} is null" for sql in ids.values())
    reasons.append((no_user, dialect.literal(MISSING_USER_ID)))
    for key, sql in ids.items():
        parts.append(f"coalesce(',\"{key}\":' || {dialect.json_text(sql)}, '')")
    event = None
    for field in ("group_id", "event_name"):
        spec = scalars.get(field)
        if spec is None or (field == "event_name" and plan.action != "track"):
            if field in plan.required:
                return None
            continue
        sql = _id(spec, field, dialect)
        if sql is None:
            return None
        value = dialect.json_text(sql)
        if field in plan.required:
            reasons.append((f"{sql} is null", _missing(field, spec, dialect)))
        if field == "event_name":
            event = sql  # required: never NULL when sent
        elif plan.action == "track":
            # Segment's own track action drops group_id; context.groupId keeps it visible
            contexts.append(f"coalesce(',\"groupId\":' || {value}, '')")
        else:
            parts.append(f"coalesce(',\"groupId\":' || {value}, '')")
    if event is not None:
        parts += [dialect.literal(',"event":'), dialect.json_text(event)]
    body = plan.body
    entries: list[tuple[str, _Value]] = []
    if body is not None:
        if body.column is not None or len(body.entries) >= MAX_TRAITS:
            return None
        for number, entry in enumerate(body.entries):
            value = _value_sql(entry, dialect, f"__sp_value_{number}")
            if value is None:
                return None
            entries.append((entry.name, value))
            if value.python_if:
                python_if.append(value.python_if)
            lets += value.lets
    parts += [dialect.literal(f',"{plan.body_key}":'), _body_sql(entries, dialect)]
    spec = scalars.get("timestamp")
    if spec is not None:
        sql = _timestamp_sql(spec, dialect)
        if sql is None:
            return None
        if spec.column is not None:
            condition = dialect.timestamp_python_if(sql)
            python_if += [condition] if condition else []
        parts.append(f"coalesce(',\"timestamp\":' || {dialect.json_text(sql)}, '')")
    needs_python = " or ".join(f"({c})" for c in python_if) or "false"
    reason = "case " + " ".join(f"when {c} then {r}" for c, r in reasons) + " end"
    message_id = message_id_sql(plan.mapping_name, PENDING_CHANGE, dialect)
    # the context's entries after its library entry go before the two closing braces
    parts += [
        dialect.literal(',"messageId":"'),
        message_id,
        dialect.literal(MESSAGE_TAIL_OPEN),
        *contexts,
        dialect.literal("}}"),
    ]
    message = dialect.concat(*parts)
    if event is not None:
        # NULL without its event, as a `||` of them would be (the row is rejected for it)
        message = f"case when {event} is not null then {message} end"
    return SqlLane(
        message=message,
        reason=reason,
        needs_python=f"coalesce({needs_python}, false)",
        lets=tuple(lets),
    )
