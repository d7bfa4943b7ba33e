"""The SQL lane's part of a subscriptions message: `context.messaging_subscriptions`,
`context.externalIds`, and Segment's rejection texts, in the order `subscriptions.py` checks them.

Statuses are normalised in SQL only where SQL's trim and lower agree with Python's (printable
ASCII); any other text goes to the Python builder, which stays the reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol

import orjson

from .plan import MessagePlan, ScalarSpec
from .subscriptions import (
    CHANNELS,
    EXPECTED_STATUSES,
    EXTERNAL_ID_TYPES,
    GROUPS_WITHOUT_EMAIL_STATUS,
    ID_FIELDS,
    MISSING_ID,
    MISSING_IDS,
    MISSING_STATUSES,
    STATUS_WORDS,
)
from .values import REPR_LIMIT


class _Dialect(Protocol):
    shares_subexpressions: bool

    def literal(self, text: str) -> str: ...
    def column(self, name: str) -> str: ...
    def json_text(self, expression: str) -> str: ...
    def concat(self, *parts: str) -> str: ...
    def is_string(self, kind: str) -> bool: ...
    def is_boolean(self, kind: str) -> bool: ...
    def printable_ascii(self, expression: str) -> str: ...
    def ascii(self, expression: str) -> str: ...
    def contains(self, expression: str, text: str) -> str: ...
    def lower_trim(self, expression: str) -> str: ...
    def text_constant(self, value: str | None) -> str: ...
    def id_text(
        self, column: str | None, kind: str, constant: object, field: str
    ) -> str | None: ...


class SubscriptionSql(NamedTuple):
    python_if: list[str]
    reasons: list[tuple[str, str]]  # (condition, reason text), in the builder's order
    context: str  # what follows the library entry in the context
    lets: list[tuple[str, str]]  # (name, expression) computed once per row: see SqlLane.lets


class _Status(NamedTuple):
    sql: str  # the normalised status, NULL when absent (or unrecognised: see reasons)
    python_if: str | None
    bad: tuple[str, str] | None  # (condition, reason) for an unrecognised status


def _status(
    column: str | None, kind: str, constant: object, d: _Dialect, named: Callable[[str], str]
) -> _Status | None:
    """A status as `normalise_status` gives it; None when only the builder can read it.
    `named`: the normalised status as the row's other expressions read it (SqlLane.lets)."""
    if column is None:
        return _Status("null" if constant is None else d.literal(str(constant)), None, None)
    value = d.column(column)
    if d.is_boolean(kind):
        sql = f"case when {value} then 'SUBSCRIBED' when not {value} then 'UNSUBSCRIBED' end"
        return _Status(named(sql), None, None)
    if not d.is_string(kind):
        return None
    text = d.lower_trim(value)
    cases = " ".join(f"when {d.literal(k)} then {d.literal(v)}" for k, v in STATUS_WORDS.items())
    status = named(f"case {text} {cases} end")
    # SQL knows a status that is one of the words (normalised, it is not NULL) or blank: read
    # from the normalised status, not by lowering and listing again (on Postgres, which names
    # it once per row, the reasons and flags of 1,000,000 rows took 1.8-2.5 s against 3.9-5.5
    # s). lower() leaves a text blank only if it was.
    known = f"({status} is not null or trim({value}) = '')"
    bad = f"{value} is not null and not {known}"
    # A status SQL knows is spaces and a word, whose letters are ASCII unless lower() made
    # them so: the builder reads it alike when it is ASCII. Any other goes to the builder
    # unless it is printable ASCII without ' and \, which Python's repr quotes with ' and
    # escapes nothing of. The regex runs only for the statuses SQL does not know (a CASE
    # evaluates a branch for its own rows only).
    python_if = (
        f"{value} is not null and case when {known} then not {d.ascii(value)} "
        f"else not {d.printable_ascii(value)} or {d.contains(value, chr(39))} or "
        f"{d.contains(value, chr(92))} end"
    )
    quoted = f"'''' || {value} || ''''"
    limit = REPR_LIMIT
    described = f"case when length({quoted}) <= {limit} then {quoted} else left({quoted}, "
    described += f"{limit - 3}) || '...' end"
    reason = (
        f"{d.literal(f'column {column} has subscription status ')} || {described} || "
        f"{d.literal(f'; {EXPECTED_STATUSES}')}"
    )
    return _Status(status, python_if, (bad, reason))


def subscription_sql(plan: MessagePlan, d: _Dialect) -> SubscriptionSql | None:
    """The subscriptions part of `plan`'s lane; None when only the builder can build it."""
    ids: list[str] = []
    for field in ID_FIELDS:
        spec = plan.scalars.get(field)
        if spec is None:
            sql = d.text_constant(None)
        else:
            sql = d.id_text(spec.column, spec.kind, spec.constant, field)
        if sql is None:
            return None
        ids.append(sql)
    python_if: list[str] = []
    bad: list[tuple[str, str]] = []
    statuses: list[str] = []
    lets: list[tuple[str, str]] = []

    def once(sql: str) -> str:
        # a column's status is read up to seven times per row (context, reasons, flag)
        if d.shares_subexpressions:
            return sql
        name = f"__sp_let_{len(lets)}"
        lets.append((name, sql))
        return f"p.{name}"

    for channel in CHANNELS:
        spec = plan.scalars.get(channel.status_field) or ScalarSpec(None, "", None)
        status = _status(spec.column, spec.kind, spec.constant, d, once)
        if status is None:
            return None
        statuses.append(status.sql)
        python_if += [status.python_if] if status.python_if else []
        bad += [status.bad] if status.bad else []

    groups_spec = plan.objects.get("subscription_groups")
    groups: list[str] = []  # each group's JSON text, NULL when the group is left out
    present: list[str] = []
    if groups_spec is not None:
        if groups_spec.column is not None:
            return None
        for entry in groups_spec.entries:
            name = orjson.dumps(entry.name).decode()
            if entry.column is None:
                if entry.constant is not None:
                    groups.append(d.literal(orjson.dumps(entry.constant).decode()))
                    present.append("true")
                continue
            status = _status(entry.column, entry.kind, None, d, once)
            if status is None:
                return None
            python_if += [status.python_if] if status.python_if else []
            bad += [status.bad] if status.bad else []
            value = d.column(entry.column)
            head = d.literal('{"name":' + name)
            # NULL for a status SQL does not know (the row is rejected for it): no status
            known = f"',\"status\":\"' || {status.sql} || '\"'"
            written = d.concat(head, f"coalesce({known}, '')", d.literal("}"))
            groups.append(f"case when {value} is not null then {written} end")
            present.append(f"{value} is not null")
    groups_present = " or ".join(f"({p})" for p in present) or "false"

    reasons = list(bad)
    reasons.append((" and ".join(f"{i} is null" for i in ids), d.literal(MISSING_IDS)))
    reasons.append((" and ".join(f"{s} is null" for s in statuses), d.literal(MISSING_STATUSES)))
    for channel, status in zip(CHANNELS, statuses, strict=True):
        condition = f"{status} is not null and {ids[channel.id_index]} is null"
        reasons.append((condition, d.literal(MISSING_ID[channel.id_index])))
    reasons.append(
        (f"({groups_present}) and {statuses[0]} is null", d.literal(GROUPS_WITHOUT_EMAIL_STATUS))
    )

    entries = []
    for channel, status in zip(CHANNELS, statuses, strict=True):
        id_sql = ids[channel.id_index]
        pieces = [
            d.literal('{"key":'),
            d.json_text(id_sql),
            d.literal(f',"type":"{channel.type}","status":"'),
            status,
            d.literal('"'),
        ]
        if channel.id_index == 0 and groups:
            listed = d.concat(
                d.literal(',"groups":['), f"concat_ws(',', {', '.join(groups)})", d.literal("]")
            )
            pieces.append(f"case when {groups_present} then {listed} else '' end")
        pieces.append(d.literal("}"))
        # without its id the entry is left out (the row is rejected for it: see reasons)
        entries.append(
            f"case when {status} is not null and {id_sql} is not null then {d.concat(*pieces)} end"
        )
    external = []
    for id_sql, id_type in zip(ids, EXTERNAL_ID_TYPES, strict=True):
        tail = f',"type":"{id_type}","collection":"users","encoding":"none"}}'
        written = d.concat(d.literal('{"id":'), d.json_text(id_sql), d.literal(tail))
        external.append(f"case when {id_sql} is not null then {written} end")
    context = d.concat(
        d.literal(',"messaging_subscriptions":['),
        f"concat_ws(',', {', '.join(entries)})",
        d.literal('],"externalIds":['),
        f"concat_ws(',', {', '.join(external)})",
        d.literal('],"messaging_subscriptions_retl":true'),
    )
    return SubscriptionSql(python_if, reasons, context, lets)
