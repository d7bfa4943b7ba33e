"""Everything a command needs: the project, settings, mappings and a warehouse connection."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError, ConfigProblem, SegmentProfilesError
from .fingerprint import fingerprint
from .mappings import Mapping, check_columns, check_write_keys, load_mappings
from .project import DbtProject, load_manifest, locate, parse_vars, segment_vars
from .settings import Settings, parse_settings
from .warehouse import Warehouse, open_warehouse

# what checked_parts keeps of each model node
_CHECKED_NODE_KEYS = ("unique_id", "name", "resource_type", "package_name", "config")


@dataclass
class Context:
    project: DbtProject
    settings: Settings
    mappings: list[Mapping]
    problems: list[ConfigProblem] = field(default_factory=list)
    # the parts of dbt's manifest the checks read (checked_parts)
    manifest: dict[str, Any] = field(default_factory=dict)
    # how long to wait for another process holding the warehouse or a mapping's lock
    lock_wait_seconds: float = 0.0
    _warehouse: Warehouse | None = None

    @property
    def warehouse(self) -> Warehouse:
        if self._warehouse is None:
            try:
                self._warehouse = open_warehouse(
                    self.project, self.settings.schema, self.lock_wait_seconds
                )
            except SegmentProfilesError:
                raise
            except Exception as exc:
                raise SegmentProfilesError(
                    f"cannot connect to the {self.project.adapter_type} warehouse of target "
                    f"{self.project.target_name!r}: {' '.join(str(exc).split())}",
                    hint="is `dbt run` still running, or are the profile's credentials right?",
                ) from None
        return self._warehouse

    def close(self) -> None:
        if self._warehouse is not None:
            self._warehouse.close()
            self._warehouse = None


def load_context(
    project_dir: str | None = None,
    profiles_dir: str | None = None,
    target: str | None = None,
    vars: str | dict[str, Any] | None = None,
) -> Context:
    """Read the project and its mappings; config problems are collected, not raised."""
    cli_vars = parse_vars(vars) if isinstance(vars, str) else dict(vars or {})
    project = locate(project_dir, profiles_dir, target, cli_vars)
    raw_vars = vars if isinstance(vars, str) else None
    manifest = load_manifest(project, raw_vars)
    target_schema = str(project.target.get("schema") or "main")
    settings, problems = parse_settings(segment_vars(project), target_schema)
    mapping_set = load_mappings(manifest, settings)
    return Context(
        project,
        settings,
        mapping_set.mappings,
        problems + mapping_set.problems,
        checked_parts(manifest),
    )


def checked_parts(manifest: dict[str, Any]) -> dict[str, Any]:
    """What the checks before sending read of the manifest (capture_checks.py): each model's
    name and config. The rest (macros, sources, each node's SQL, columns and docs: most of a
    large project's manifest) is let go before the sync starts, not held beside its rows."""
    nodes = {
        unique_id: {key: node[key] for key in _CHECKED_NODE_KEYS if key in node}
        for unique_id, node in manifest.get("nodes", {}).items()
        if node.get("resource_type") == "model"
    }
    return {"metadata": manifest.get("metadata", {}), "nodes": nodes}


def select_mappings(
    mappings: list[Mapping], select: list[str] | None, exclude: list[str] | None
) -> list[Mapping]:
    """Mappings by name, model name or `tag:x`, with shell wildcards, as dbt selects nodes."""

    def matches(mapping: Mapping, selector: str) -> bool:
        if selector.startswith("tag:"):
            return any(fnmatch.fnmatchcase(t, selector[4:]) for t in mapping.tags)
        return fnmatch.fnmatchcase(mapping.name, selector) or fnmatch.fnmatchcase(
            mapping.model_name, selector
        )

    chosen = [
        m for m in mappings if not select or any(matches(m, s) for t in select for s in t.split())
    ]
    if exclude:
        chosen = [m for m in chosen if not any(matches(m, s) for t in exclude for s in t.split())]
    return chosen


def check(ctx: Context, mappings: list[Mapping], write_keys: bool = True) -> list[ConfigProblem]:
    """Every problem with these mappings, the warehouse's view of their models included."""
    # problems of mappings left out by --select do not block; those of mappings too broken to
    # parse (so unselectable) always do
    deselected = {m.name for m in ctx.mappings} - {m.name for m in mappings}
    problems = [p for p in ctx.problems if p.mapping not in deselected]
    if write_keys:
        problems += check_write_keys(mappings, ctx.settings)
    problems += [p for m in mappings if (p := _compile_problem(m)) is not None]
    problems += check_nodes(ctx, mappings)
    troubled = {p.mapping for p in problems} | {
        m.name for m in mappings if m.model_name in {p.model for p in problems if not p.mapping}
    }
    warehouse = ctx.warehouse
    captured: dict[str, str | None] = {}
    for mapping in mappings:
        if mapping.name in troubled:
            continue
        columns = (
            warehouse.relation_columns(mapping.relation_name) if mapping.relation_name else None
        )
        if columns is None:
            problems.append(
                ConfigProblem(
                    mapping.model_name,
                    mapping.name,
                    "model",
                    f"relation {mapping.relation_name or '?'} does not exist: run `dbt run` first",
                )
            )
            continue
        problems += check_columns(mapping, columns)
        if not warehouse.has_history() or not warehouse.table_exists(f"{mapping.name}__pending"):
            problems.append(
                ConfigProblem(
                    mapping.model_name,
                    mapping.name,
                    "post-hook",
                    "has no captured changes yet: run `dbt run` with "
                    '`+post-hook: "{{ segment_profiles.capture_changes() }}"` on your models',
                )
            )
            continue
        status = warehouse.capture_status(mapping)
        captured[mapping.name] = status.invocation_id if status else None
    from .capture_checks import uncaptured_builds

    return problems + uncaptured_builds(ctx.project.target_path, mappings, captured)


def relation_key(relation_name: str | None) -> str:
    """A relation's name as capture records it: unquoted, lower case."""
    return (relation_name or "").replace('"', "").replace("`", "").lower()


def blocked_mappings(ctx: Context, mappings: list[Mapping]) -> dict[str, str]:
    """Mappings whose state must not be sent from now, and why; the others are free to go.

    Each is a condition of that mapping's state, not of the config: its fields changed since it
    was captured, its state belongs to another relation, its capture predates this version, or
    its capture would delete more than max_deleted_percent of its keys.
    """
    from .state.orphans import find_orphans, renamed_from

    blocked: dict[str, str] = {}
    warehouse = ctx.warehouse
    orphans = find_orphans(warehouse, ctx.mappings)
    for mapping in mappings:
        old = renamed_from(warehouse, mapping, orphans)
        if old is not None:
            blocked[mapping.name] = (
                f"it has the same definition as {old}, a mapping no longer declared whose state "
                f"is still kept: if you renamed it, run `dbt-segment rename {old} "
                f"{mapping.name}` (nothing is sent again); if not, run `dbt-segment prune --yes` "
                f"to drop {old}'s bookkeeping, and {mapping.name} sends every row"
            )
            continue
        stored = warehouse.stored_fingerprint(mapping)
        if stored is not None and stored != fingerprint(mapping):
            blocked[mapping.name] = (
                "its fields changed since the last sync, so the state no longer matches what "
                f"would be sent: run `dbt-segment reset {mapping.name}` to send every row "
                f"again, or `dbt-segment reset {mapping.name} --rebaseline --yes` to take the "
                "current rows as synced"
            )
            continue
        captured = warehouse.capture_status(mapping)
        if captured is None or (captured.hash_version or 1) < 2:
            blocked[mapping.name] = (
                "its changes were captured by an older version of dbt-segment-profiles: run "
                "`dbt run` (its capture moves the state to the new layout once)"
            )
        elif relation_key(captured.relation_name) != relation_key(mapping.relation_name):
            blocked[mapping.name] = (
                f"its state was captured from {captured.relation_name}, not "
                f"{relation_key(mapping.relation_name)}: two targets (or a moved model) share "
                f"the bookkeeping schema {ctx.settings.schema}; give each target its own "
                "(leave vars.segment_profiles.schema unset, or include {{ target.name }} in "
                f"it), or run `dbt-segment reset {mapping.name}` if the model moved on purpose"
            )
        elif captured.blocked_reason:
            blocked[mapping.name] = captured.blocked_reason
    return blocked


def _compile_problem(mapping: Mapping) -> ConfigProblem | None:
    """What the message builder refuses in this mapping (constants it cannot send): the
    builder owns these rules, so validate reports exactly what sync would refuse."""
    from .messages import compile_mapping

    try:
        compile_mapping(mapping, mapping.columns)
    except ValueError as error:
        text = str(error).removeprefix(f"mapping {mapping.name}: ")
        key, _, message = text.partition(": " if ": " in text else " ")
        return ConfigProblem(mapping.model_name, mapping.name, key, message)
    return None


def check_nodes(ctx: Context, mappings: list[Mapping]) -> list[ConfigProblem]:
    from .capture_checks import capture_problems

    return capture_problems(ctx.manifest, mappings)


def require_valid(ctx: Context, mappings: list[Mapping], write_keys: bool = True) -> None:
    problems = check(ctx, mappings, write_keys)
    if problems:
        raise ConfigError(problems, hint="fix the config, then run `dbt run` and sync again")
