"""A mapping compiled once into the plan of its messages, which every builder follows.

The plan says, per Segment field, where its value comes from (a column with its warehouse type,
or a constant already converted as it is sent), and the message's shape: its type, its body
object, its required fields and limits. The Python builder (`builder.py`) and the warehouse-side
SQL lane (`sql_lane.py`) both build from it, so neither reads the mapping's `fields` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping as ReadOnlyDict
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from .. import __version__
from ..mappings import Mapping, ObjectSource, Source
from .subscriptions import STATUS_FIELDS, normalise_status, subscription_group
from .values import ValueProblem, to_id, to_json, to_timestamp

MAX_MESSAGE_BYTES = 32768
MAX_TRAITS = 300  # Profiles rejects identify calls with this many traits or more
MAX_MESSAGE_ID = 100  # messageId must be shorter than this

LIBRARY = {"name": "dbt-segment-profiles", "version": __version__}
# Shared by every message: they are serialised right away and never mutated.
INTEGRATIONS = {"All": False}
# what follows the messageId in a message whose context holds only the library, less the two
# closing braces (a per-row context goes in between)
MESSAGE_TAIL_OPEN = (
    '",'
    + orjson.dumps({"integrations": INTEGRATIONS, "context": {"library": LIBRARY}}).decode()[1:-2]
)
MESSAGE_TAIL = MESSAGE_TAIL_OPEN + "}}"

MESSAGE_TYPES = {
    "identify": "identify",
    "group": "group",
    "track": "track",
    "subscriptions": "identify",
}
BODY_FIELDS = {"identify": "traits", "group": "traits", "track": "properties"}
# fields a message of the action cannot go without (beyond userId or anonymousId)
REQUIRED_FIELDS = {"group": ("group_id",), "track": ("event_name",)}


class ScalarSpec(NamedTuple):
    """One value: a column (with its warehouse type, '' when unknown) or a converted constant."""

    column: str | None  # None for a constant
    kind: str
    constant: Any


class EntrySpec(NamedTuple):
    """One named entry of an object field (a trait, a property, a subscription group)."""

    name: str
    column: str | None  # None for a constant
    kind: str
    constant: Any  # converted: a JSON value, or a subscription group's entry


class ObjectSpec(NamedTuple):
    """An object field: named entries, or one column (`column`) holding the whole object."""

    entries: tuple[EntrySpec, ...]
    column: str | None
    kind: str


@dataclass(frozen=True)
class MessagePlan:
    """How one mapping's rows become messages; see the module docstring."""

    mapping_name: str
    action: str
    message_type: str
    body_key: str  # the body object: traits or properties
    scalars: dict[str, ScalarSpec]
    objects: dict[str, ObjectSpec]
    required: tuple[str, ...]
    limit_traits: bool  # identify calls with MAX_TRAITS traits or more are rejected

    @property
    def body(self) -> ObjectSpec | None:
        return self.objects.get("traits") or self.objects.get("properties")


def _kind_lookup(types: ReadOnlyDict[str, str] | None) -> Callable[[str], str]:
    types = types or {}
    folded: dict[str, list[str]] = {}
    for name, kind in types.items():
        folded.setdefault(name.lower(), []).append(kind)

    def kind_of(column: str) -> str:
        if column in types:
            return types[column]
        # warehouses fold unquoted identifiers: a unique case-insensitive match counts
        candidates = folded.get(column.lower(), [])
        return candidates[0] if len(candidates) == 1 else ""

    return kind_of


def _converter_for(field: str) -> Callable[[Any, str], Any]:
    if field == "timestamp":
        return to_timestamp
    if field in STATUS_FIELDS:
        return normalise_status
    return lambda value, column: to_id(value, column, field)


def compile_plan(mapping: Mapping, types: ReadOnlyDict[str, str] | None = None) -> MessagePlan:
    """The plan of `mapping`'s messages; `types` are the pending table's column types, where
    known (the SQL lane needs them; the Python builder reads the values themselves).

    Raises ValueError naming the mapping and field for a constant that cannot be sent.
    """
    name = mapping.name
    if mapping.action not in MESSAGE_TYPES:
        raise ValueError(f"mapping {name}: unknown action {mapping.action!r}")
    kind_of = _kind_lookup(types)

    def constant(convert: Callable[[Any, str], Any], value: Any, field: str) -> Any:
        try:
            return convert(value, f"{{value: ...}} of {field}")
        except ValueProblem as problem:
            raise ValueError(f"mapping {name}: fields.{field}: {problem.reason}") from None

    scalars: dict[str, ScalarSpec] = {}
    objects: dict[str, ObjectSpec] = {}
    for field, source in mapping.fields.items():
        if isinstance(source, Source):
            if source.column is not None:
                scalars[field] = ScalarSpec(source.column, kind_of(source.column), None)
                continue
            if field == "message_id":
                # One id for every row would make Segment de-duplicate all but the first.
                raise ValueError(
                    f"mapping {name}: fields.message_id must be a column, not a constant"
                )
            value = constant(_converter_for(field), source.constant, field)
            if value is None and field in ("group_id", "event_name"):
                raise ValueError(f"mapping {name}: fields.{field}: constant is empty")
            scalars[field] = ScalarSpec(None, "", value)
        elif isinstance(source, ObjectSource):
            if source.column is not None:
                objects[field] = ObjectSpec((), source.column, kind_of(source.column))
                continue
            entries = []
            for entry_name, inner in source.entries:
                label = f"{field}.{entry_name}"
                if inner.column is not None:
                    entry = EntrySpec(entry_name, inner.column, kind_of(inner.column), None)
                elif field == "subscription_groups":
                    group = constant(
                        lambda value, column, n=entry_name: subscription_group(n, value, column),
                        inner.constant,
                        label,
                    )
                    entry = EntrySpec(entry_name, None, "", group)
                else:
                    value = constant(to_json, inner.constant, label)
                    entry = EntrySpec(entry_name, None, "", value)
                entries.append(entry)
            objects[field] = ObjectSpec(tuple(entries), None, "")
        else:
            raise ValueError(f"mapping {name}: fields.{field}: unsupported source")
    action = mapping.action
    return MessagePlan(
        mapping_name=name,
        action=action,
        message_type=MESSAGE_TYPES[action],
        body_key=BODY_FIELDS.get(action, "traits"),
        scalars=scalars,
        objects=objects,
        required=REQUIRED_FIELDS.get(action, ()),
        limit_traits=action in ("identify", "subscriptions"),
    )
