"""Compile a Mapping once into a MessageBuilder that turns each pending row into a message.

Everything that depends only on the mapping (column positions, constants, which fields exist) is
resolved in `compile_mapping`; `MessageBuilder.build` runs per row, millions of times, so it only
reads values, converts them and serialises.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple

import orjson

from ..mappings import Mapping
from .message_id import MessageIds, message_id_for
from .plan import (
    INTEGRATIONS,
    LIBRARY,
    MAX_MESSAGE_BYTES,
    MAX_MESSAGE_ID,
    MAX_TRAITS,
    MessagePlan,
    compile_plan,
)
from .subscriptions import (
    ID_FIELDS,
    MISSING_USER_ID,
    STATUS_FIELDS,
    normalise_status,
    subscription_context,
    subscription_group,
)
from .values import ValueProblem, describe, to_id, to_json, to_object, to_timestamp

__all__ = [
    "LIBRARY",
    "MAX_MESSAGE_BYTES",
    "MAX_MESSAGE_ID",
    "MAX_TRAITS",
    "MessageBuilder",
    "Rejection",
    "compile_mapping",
    "message_id_for",
    "oversize",
]


@dataclass(frozen=True)
class Rejection:
    """A row that cannot be sent; `reason` names the column and value where there is one."""

    reason: str


def oversize(size: int) -> Rejection:
    """The rejection of a message of `size` bytes, over Segment's limit."""
    return Rejection(f"message is {size} bytes; Segment accepts at most {MAX_MESSAGE_BYTES}")


class _Scalar(NamedTuple):
    column: str | None  # None for a constant
    index: int  # position in the row, -1 for a constant
    constant: Any  # already converted


class _Object(NamedTuple):
    # (name, index, column, constant) per named entry; index -1 for a constant
    entries: tuple[tuple[str, int, str | None, Any], ...]
    column: str | None  # set when one column holds the whole object
    index: int
    # When every entry is a column: the entry names, their columns, and a C-speed reader of
    # their values, for the fast path.
    names: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    getter: Callable[[Sequence[Any]], tuple[Any, ...]] | None = None


# Types orjson writes exactly as JSON expects. Integers wider than 64 bits make orjson raise, and
# `build` then retries on the careful path; floats need a NaN check, so they are not listed.
_PLAIN = frozenset({str, int, bool, type(None)})


def _read_id(spec: _Scalar | None, row: Sequence[Any], field: str) -> str | None:
    if spec is None:
        return None
    if spec.index < 0:
        return spec.constant
    value = row[spec.index]
    if type(value) is str:
        return value or None
    return to_id(value, spec.column, field)


def _read_object(
    spec: _Object | None,
    row: Sequence[Any],
    field: str,
    keep_null: bool = True,
    careful: bool = False,
) -> dict[str, Any] | None:
    """The object, or None when its column is NULL (or, without keep_null, nothing is set)."""
    if spec is None:
        return None
    if spec.index >= 0:
        return to_object(row[spec.index], spec.column, field)
    getter = spec.getter
    if getter is not None and keep_null:
        values = getter(row)
        if careful:
            return {
                name: to_json(value, column)
                for name, value, column in zip(spec.names, values, spec.columns, strict=True)
            }
        # plain values go as they are; orjson refusing one sends the row down the careful path
        return {
            name: value if type(value) in _PLAIN else to_json(value, column)
            for name, value, column in zip(spec.names, values, spec.columns)
        }
    result: dict[str, Any] = {}
    for name, index, column, constant in spec.entries:
        value = constant if index < 0 else to_json(row[index], column)
        if value is not None or keep_null:
            result[name] = value
    return result if result or keep_null else None


def _value_getter(indexes: Sequence[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    if len(indexes) == 1:
        index = indexes[0]
        return lambda row: (row[index],)
    return itemgetter(*indexes)


class MessageBuilder:
    """Builds the messages of one mapping; see `compile_mapping`."""

    def __init__(
        self,
        plan: MessagePlan,
        scalars: dict[str, _Scalar],
        objects: dict[str, _Object],
        used_columns: tuple[tuple[str, int], ...],
    ):
        action = plan.action
        self.mapping_name = plan.mapping_name
        self.action = action
        self.plan = plan
        self._type = plan.message_type
        self._body_key = plan.body_key
        self._limit_traits = plan.limit_traits
        self._track = action == "track"
        self._subscriptions = action == "subscriptions"
        self._user_id = scalars.get("user_id")
        self._anonymous_id = scalars.get("anonymous_id")
        self._group_id = scalars.get("group_id")
        self._group_required = "group_id" in plan.required
        self._event = scalars.get("event_name")
        self._timestamp = scalars.get("timestamp")
        self._message_id = scalars.get("message_id")
        self._body = objects.get("traits") or objects.get("properties")
        self._consent = objects.get("consent")
        self._sub_ids = tuple((scalars.get(field), field) for field in ID_FIELDS)
        self._sub_statuses = tuple(scalars.get(field) for field in STATUS_FIELDS)
        self._sub_groups = objects.get("subscription_groups")
        self._used_columns = used_columns
        self.message_id = MessageIds(plan.mapping_name).derive

    def build(
        self,
        row: Sequence[Any],
        operation: str,
        key: str,
        row_hash: str | None,
        version: int = 0,
    ) -> bytes | Rejection:
        """The message as compact JSON bytes, or a Rejection; never raises for row content."""
        try:
            message = self._message(row, operation, key, row_hash, version, False)
            if type(message) is Rejection:
                return message
            try:
                data = orjson.dumps(message)
            except orjson.JSONEncodeError:
                # The fast path let through an integer wider than 64 bits (or a string orjson
                # can't encode): convert every value on the careful path instead.
                message = self._message(row, operation, key, row_hash, version, True)
                if type(message) is Rejection:
                    return message
                data = orjson.dumps(message)
        except ValueProblem as problem:
            return Rejection(problem.reason)
        except Exception as error:  # the contract: a row never stops the sync
            return self._explain(row, error)
        if len(data) > MAX_MESSAGE_BYTES:
            return oversize(len(data))
        return data

    def _message(
        self,
        row: Sequence[Any],
        operation: str,
        key: str,
        row_hash: str | None,
        version: int,
        careful: bool,
    ) -> dict[str, Any] | Rejection:
        user_id = _read_id(self._user_id, row, "user_id")
        anonymous_id = _read_id(self._anonymous_id, row, "anonymous_id")
        context: dict[str, Any] = {"library": LIBRARY}

        if self._subscriptions:
            problem = self._subscription_context(row, context)
            if problem is not None:
                return problem
        if user_id is None and anonymous_id is None:
            return Rejection(MISSING_USER_ID)

        group_id = _read_id(self._group_id, row, "group_id")
        if group_id is None and self._group_required:
            return _missing_required("group_id", self._group_id, row)
        event = None
        if self._track:
            event = _read_id(self._event, row, "event_name")
            if event is None:
                return _missing_required("event_name", self._event, row)

        body = _read_object(self._body, row, self._body_key, careful=careful)
        if body is None:
            body = {}
        if self._limit_traits and len(body) >= MAX_TRAITS:
            return Rejection(
                f"{len(body)} traits; Segment Profiles rejects identify calls with "
                f"{MAX_TRAITS} or more traits"
            )

        timestamp = None
        spec = self._timestamp
        if spec is not None:
            timestamp = (
                spec.constant if spec.index < 0 else to_timestamp(row[spec.index], spec.column)
            )

        spec = self._message_id
        message_id = None if spec is None else _read_id(spec, row, "message_id")
        if message_id is None:
            # a deleted row's mapped columns are NULL: it gets the derived id, as unmapped ones do
            if spec is not None and operation != "deleted":
                return _missing_required("message_id", spec, row)
            message_id = self.message_id(key, row_hash, operation, version)
        elif len(message_id) >= MAX_MESSAGE_ID:
            return Rejection(
                f"column {spec.column if spec else ''} has a message_id of {len(message_id)} "
                f"characters; Segment accepts fewer than {MAX_MESSAGE_ID}"
            )

        if self._consent is not None:
            consent = _read_object(self._consent, row, "consent", keep_null=False)
            if consent is not None:
                context["consent"] = consent

        message: dict[str, Any] = {"type": self._type}
        if user_id is not None:
            message["userId"] = user_id
        if anonymous_id is not None:
            message["anonymousId"] = anonymous_id
        if group_id is not None:
            if self._track:
                # Segment's own track action drops group_id; context.groupId keeps it visible.
                context["groupId"] = group_id
            else:
                message["groupId"] = group_id
        if event is not None:
            message["event"] = event
        message[self._body_key] = body
        if timestamp is not None:
            message["timestamp"] = timestamp
        message["messageId"] = message_id
        message["integrations"] = INTEGRATIONS
        message["context"] = context
        return message

    def _subscription_context(
        self, row: Sequence[Any], context: dict[str, Any]
    ) -> Rejection | None:
        ids = [_read_id(spec, row, field) for spec, field in self._sub_ids]
        statuses = []
        for spec in self._sub_statuses:
            if spec is None:
                statuses.append(None)
            elif spec.index < 0:
                statuses.append(spec.constant)
            else:
                statuses.append(normalise_status(row[spec.index], spec.column))
        result = subscription_context(ids, statuses, self._groups(row))
        if type(result) is str:
            return Rejection(result)
        context["messaging_subscriptions"], context["externalIds"] = result
        context["messaging_subscriptions_retl"] = True
        return None

    def _groups(self, row: Sequence[Any]) -> list[dict[str, str]]:
        spec = self._sub_groups
        groups: list[dict[str, str]] = []
        if spec is None:
            return groups
        if spec.index >= 0:
            column = spec.column
            raw = to_object(row[spec.index], column, "subscription_groups") or {}
            for name, value in raw.items():
                group = subscription_group(name, value, f"{column} (group {name})")
                if group is not None:
                    groups.append(group)
            return groups
        for name, index, column, constant in spec.entries:
            if index < 0:
                group = constant
            else:
                group = subscription_group(name, row[index], column)
            if group is not None:
                groups.append(group)
        return groups

    def _explain(self, row: Sequence[Any], error: Exception) -> Rejection:
        """Slow path after an unexpected failure: find the column whose value caused it."""
        for column, index in self._used_columns:
            value = row[index] if index < len(row) else None
            try:
                orjson.dumps(to_json(value, column))
            except ValueProblem:
                continue
            except Exception as cause:
                return Rejection(
                    f"column {column} has value {describe(value)}, which cannot be encoded "
                    f"as JSON ({type(cause).__name__}: {cause})"
                )
        return Rejection(f"the message cannot be built: {type(error).__name__}: {error}")


def _missing_required(field: str, spec: _Scalar | None, row: Sequence[Any]) -> Rejection:
    if spec is None or spec.index < 0:
        return Rejection(f"Missing required field {field} (not mapped)")
    state = "NULL" if row[spec.index] is None else "empty"
    return Rejection(f"Missing required field {field} (column {spec.column} is {state})")


def _positions(columns: Sequence[str]) -> Callable[[str], int | None]:
    exact: dict[str, int] = {}
    folded: dict[str, list[int]] = {}
    for index, name in enumerate(columns):
        exact.setdefault(name, index)
        folded.setdefault(name.lower(), []).append(index)

    def position(column: str) -> int | None:
        if column in exact:
            return exact[column]
        # Warehouses fold unquoted identifiers (Snowflake upper, Postgres lower): accept a
        # unique case-insensitive match.
        candidates = folded.get(column.lower(), [])
        return candidates[0] if len(candidates) == 1 else None

    return position


def compile_mapping(
    mapping: Mapping, columns: Sequence[str], plan: MessagePlan | None = None
) -> MessageBuilder:
    """A builder for `mapping`'s rows (following its `plan`, compiled here when not given),
    whose values come in the order of `columns`.

    Raises ValueError naming a mapped column that is not in `columns`, or a constant that cannot
    be sent.
    """
    if plan is None:
        plan = compile_plan(mapping)
    position = _positions(columns)
    used: dict[str, int] = {}

    def index_of(column: str) -> int:
        found = position(column)
        if found is None:
            raise ValueError(
                f"mapping {plan.mapping_name}: column {column!r} is not among the columns read "
                f"({', '.join(columns) or 'none'})"
            )
        used.setdefault(column, found)
        return found

    scalars = {
        field: _Scalar(spec.column, -1, spec.constant)
        if spec.column is None
        else _Scalar(spec.column, index_of(spec.column), None)
        for field, spec in plan.scalars.items()
    }
    objects: dict[str, _Object] = {}
    for field, spec in plan.objects.items():
        if spec.column is not None:
            objects[field] = _Object((), spec.column, index_of(spec.column))
            continue
        entries = tuple(
            (
                entry.name,
                -1 if entry.column is None else index_of(entry.column),
                entry.column,
                entry.constant,
            )
            for entry in spec.entries
        )
        if entries and all(index >= 0 for _, index, _, _ in entries):
            objects[field] = _Object(
                entries,
                None,
                -1,
                names=tuple(entry[0] for entry in entries),
                columns=tuple(entry[2] for entry in entries),
                getter=_value_getter([entry[1] for entry in entries]),
            )
        else:
            objects[field] = _Object(entries, None, -1)
    return MessageBuilder(plan, scalars, objects, tuple(used.items()))
