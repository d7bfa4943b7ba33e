"""The mapping config: `config.meta.segment` of dbt models, parsed and validated as a whole."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigProblem
from .settings import Settings

SCALAR = "scalar"
OBJECT = "object"

MAX_MAPPINGS_PER_SPACE = 50
MAPPING_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
OPERATIONS = ("added", "updated", "deleted")
DEFAULT_SEND = frozenset({"added", "updated"})

_COMMON = {
    "user_id": SCALAR,
    "anonymous_id": SCALAR,
    "timestamp": SCALAR,
    "message_id": SCALAR,
    "consent": OBJECT,
}
ACTION_FIELDS: dict[str, dict[str, str]] = {
    "identify": {**_COMMON, "group_id": SCALAR, "traits": OBJECT},
    "group": {**_COMMON, "group_id": SCALAR, "traits": OBJECT},
    "track": {**_COMMON, "event_name": SCALAR, "group_id": SCALAR, "properties": OBJECT},
    "subscriptions": {
        **_COMMON,
        "email": SCALAR,
        "email_subscription_status": SCALAR,
        "subscription_groups": OBJECT,
        "phone": SCALAR,
        "sms_subscription_status": SCALAR,
        "whatsapp_subscription_status": SCALAR,
        "android_push_token": SCALAR,
        "android_push_subscription_status": SCALAR,
        "ios_push_token": SCALAR,
        "ios_push_subscription_status": SCALAR,
        "traits": OBJECT,
    },
}
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "identify": (),
    "group": ("group_id",),
    "track": ("event_name",),
    "subscriptions": (),
}


@dataclass(frozen=True)
class Source:
    """Where one value comes from: a column of the model, or a constant."""

    column: str | None = None
    constant: Any = None


@dataclass(frozen=True)
class ObjectSource:
    """An object field: named entries, or one column that holds a whole object."""

    entries: tuple[tuple[str, Source], ...] = ()
    column: str | None = None


FieldSource = Source | ObjectSource


DEFAULT_MAX_DELETED_PERCENT = 20.0
MAPPING_KEYS = ("name", "action", "profile_space", "send", "max_deleted_percent", "fields")


@dataclass(frozen=True)
class Mapping:
    name: str
    action: str
    profile_space: str
    send: frozenset[str]
    fields: dict[str, FieldSource]
    primary_key: str
    model_name: str
    model_id: str
    relation_name: str
    tags: tuple[str, ...] = ()
    package_name: str = ""
    language: str = "sql"
    # the mass-delete guard: a capture deleting more than this share of the keys is held
    max_deleted_percent: float | None = DEFAULT_MAX_DELETED_PERCENT

    @property
    def columns(self) -> tuple[str, ...]:
        """Every model column the mapping reads, the primary key included, sorted."""
        return tuple(sorted({self.primary_key, *_columns_of(self.fields.values())}))


@dataclass
class MappingSet:
    mappings: list[Mapping] = field(default_factory=list)
    problems: list[ConfigProblem] = field(default_factory=list)


def _columns_of(sources: Iterable[FieldSource]) -> set[str]:
    found: set[str] = set()
    for source in sources:
        if isinstance(source, Source):
            if source.column is not None:
                found.add(source.column)
        else:
            if source.column is not None:
                found.add(source.column)
            found |= _columns_of(s for _, s in source.entries)
    return found


def load_mappings(manifest: dict[str, Any], settings: Settings) -> MappingSet:
    """Every mapping of every model in the manifest, and every problem found in their config."""
    result = MappingSet()
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") != "model":
            continue
        meta = (node.get("config") or {}).get("meta") or {}
        if "segment" not in meta:
            continue
        _parse_model(node, meta["segment"], result)
    _check_across_models(result, settings)
    return result


def _parse_model(node: dict[str, Any], segment: Any, result: MappingSet) -> None:
    model = node["name"]
    if not isinstance(segment, dict):
        result.problems.append(
            ConfigProblem(
                model, None, "segment", "must be a mapping with primary_key and mappings"
            )
        )
        return
    for key in segment:
        if key not in ("primary_key", "mappings"):
            result.problems.append(
                ConfigProblem(model, None, key, "unknown key; expected primary_key and mappings")
            )
    primary_key = segment.get("primary_key")
    if not isinstance(primary_key, str) or not primary_key:
        result.problems.append(
            ConfigProblem(
                model,
                None,
                "primary_key",
                "is missing: name the column that identifies a record",
            )
        )
        primary_key = ""
    raw_mappings = segment.get("mappings")
    if not isinstance(raw_mappings, list) or not raw_mappings:
        result.problems.append(
            ConfigProblem(model, None, "mappings", "must be a non-empty list of mappings")
        )
        return
    for index, raw in enumerate(raw_mappings):
        mapping = _parse_mapping(node, primary_key, index, raw, result.problems)
        if mapping is not None:
            result.mappings.append(mapping)


def _parse_mapping(
    node: dict[str, Any],
    primary_key: str,
    index: int,
    raw: Any,
    problems: list[ConfigProblem],
) -> Mapping | None:
    model = node["name"]
    if not isinstance(raw, dict):
        problems.append(ConfigProblem(model, f"#{index + 1}", "mappings", "must be a mapping"))
        return None
    name = raw.get("name")
    label = name if isinstance(name, str) and name else f"#{index + 1}"
    before = len(problems)

    def problem(key: str, message: str) -> None:
        problems.append(ConfigProblem(model, label, key, message))

    for key in raw:
        if key not in MAPPING_KEYS:
            problem(key, f"unknown key; expected {', '.join(MAPPING_KEYS)}")
    if not isinstance(name, str) or not name:
        problem("name", "is missing")
    elif not MAPPING_NAME.match(name):
        problem("name", f"{name!r} must match [a-z][a-z0-9_]*")
    action = raw.get("action")
    if action not in ACTION_FIELDS:
        problem("action", f"unknown action {action!r}; expected one of {', '.join(ACTION_FIELDS)}")
    profile_space = raw.get("profile_space")
    if not isinstance(profile_space, str) or not profile_space:
        problem("profile_space", "is missing")
    send = _parse_send(raw.get("send"), problem)
    max_deleted_percent = _parse_max_deleted_percent(raw, problem)
    fields = _parse_fields(raw.get("fields"), action, problem)
    if len(problems) > before or not primary_key:
        return None
    return Mapping(
        name=name,
        action=action,
        profile_space=profile_space,
        send=send,
        fields=fields,
        primary_key=primary_key,
        model_name=model,
        model_id=node["unique_id"],
        relation_name=node.get("relation_name") or "",
        tags=tuple(node.get("tags") or ()),
        package_name=node.get("package_name", ""),
        language=node.get("language", "sql"),
        max_deleted_percent=max_deleted_percent,
    )


def _parse_max_deleted_percent(raw: dict[str, Any], problem) -> float | None:
    if "max_deleted_percent" not in raw:
        return DEFAULT_MAX_DELETED_PERCENT
    value = raw["max_deleted_percent"]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        problem(
            "max_deleted_percent",
            f"must be a number from 0 to 100, or null to turn the guard off; got {value!r}",
        )
        return DEFAULT_MAX_DELETED_PERCENT
    return float(value)


def _parse_send(raw: Any, problem) -> frozenset[str]:
    if raw is None:
        return DEFAULT_SEND
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        problem("send", f"must be a list of {', '.join(OPERATIONS)}")
        return DEFAULT_SEND
    for op in raw:
        if op not in OPERATIONS:
            problem("send", f"unknown operation {op!r}; expected any of {', '.join(OPERATIONS)}")
    return frozenset(op for op in raw if op in OPERATIONS)


def _parse_fields(raw: Any, action: Any, problem) -> dict[str, FieldSource]:
    if not isinstance(raw, dict) or not raw:
        problem("fields", "must map Segment fields to columns")
        return {}
    allowed = ACTION_FIELDS.get(action)
    if allowed is None:
        # the action is already reported; its fields cannot be judged without it
        return {}
    fields: dict[str, FieldSource] = {}
    for name, value in raw.items():
        if name not in allowed:
            problem(
                f"fields.{name}",
                f"is not a field of {action}; expected one of {', '.join(allowed)}",
            )
            continue
        parsed = (
            _parse_object(value, f"fields.{name}", problem)
            if allowed[name] == OBJECT
            else _parse_source(value, f"fields.{name}", problem)
        )
        if parsed is not None:
            fields[name] = parsed
    for required in REQUIRED_FIELDS.get(action, ()):
        if required not in raw:
            problem(f"fields.{required}", f"is required for {action}")
    return fields


def _parse_source(value: Any, key: str, problem) -> Source | None:
    if isinstance(value, str) and value:
        return Source(column=value)
    if isinstance(value, dict) and set(value) == {"value"}:
        return Source(constant=value["value"])
    problem(key, f"{value!r} must be a column name or {{value: <constant>}}")
    return None


def _parse_object(value: Any, key: str, problem) -> ObjectSource | None:
    if isinstance(value, str) and value:
        return ObjectSource(column=value)
    if isinstance(value, list) and value and all(isinstance(c, str) and c for c in value):
        return ObjectSource(entries=tuple((c, Source(column=c)) for c in value))
    if isinstance(value, dict) and value:
        entries = []
        for name, inner in value.items():
            source = _parse_source(inner, f"{key}.{name}", problem)
            if source is not None:
                entries.append((str(name), source))
        return ObjectSource(entries=tuple(entries))
    problem(key, f"{value!r} must be a column, a list of columns or {{name: column}}")
    return None


def _check_across_models(result: MappingSet, settings: Settings) -> None:
    seen: dict[str, Mapping] = {}
    per_space: dict[str, list[Mapping]] = {}
    for mapping in result.mappings:
        if mapping.name in seen:
            result.problems.append(
                ConfigProblem(
                    mapping.model_name,
                    mapping.name,
                    "name",
                    f"duplicate mapping name; also used by model {seen[mapping.name].model_name}",
                )
            )
        seen.setdefault(mapping.name, mapping)
        per_space.setdefault(mapping.profile_space, []).append(mapping)
    for space_name, mappings in per_space.items():
        space = settings.profile_spaces.get(space_name)
        if space is None:
            known = ", ".join(sorted(settings.profile_spaces)) or "none"
            for mapping in mappings:
                result.problems.append(
                    ConfigProblem(
                        mapping.model_name,
                        mapping.name,
                        "profile_space",
                        f"unknown profile space {space_name!r}; defined in "
                        f"vars.segment_profiles.profile_spaces: {known}",
                    )
                )
            continue
        if len(mappings) > MAX_MAPPINGS_PER_SPACE:
            result.problems.append(
                ConfigProblem(
                    mappings[MAX_MAPPINGS_PER_SPACE].model_name,
                    mappings[MAX_MAPPINGS_PER_SPACE].name,
                    "profile_space",
                    f"profile space {space_name!r} has {len(mappings)} mappings; Segment allows "
                    f"at most {MAX_MAPPINGS_PER_SPACE} per destination",
                )
            )


def check_write_keys(
    mappings: Iterable[Mapping], settings: Settings, environ: AnyMapping[str, str] | None = None
) -> list[ConfigProblem]:
    """A problem per mapping whose profile space's credentials variable is not set: the write
    key's, or the Public API token's that looks the write key up."""
    environ = os.environ if environ is None else environ
    problems = []
    for mapping in mappings:
        space = settings.profile_spaces.get(mapping.profile_space)
        if space is None:
            continue
        if not environ.get(space.key_variable):
            what = "write key" if space.write_key_env else "Public API token"
            problems.append(
                ConfigProblem(
                    mapping.model_name,
                    mapping.name,
                    "profile_space",
                    f"environment variable {space.key_variable} ({what} of profile space "
                    f"{space.name!r}) is not set",
                )
            )
    return problems


def check_columns(mapping: Mapping, available: Iterable[str]) -> list[ConfigProblem]:
    """A problem per mapped column that the model's relation does not have."""
    have = {c.lower() for c in available}
    return [
        ConfigProblem(
            mapping.model_name,
            mapping.name,
            "primary_key" if column == mapping.primary_key else "fields",
            f"column {column!r} is not in model {mapping.model_name}",
        )
        for column in mapping.columns
        if column.lower() not in have
    ]
