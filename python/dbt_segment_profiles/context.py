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


@dataclass
class Context:
    project: DbtProject
    settings: Settings
    mappings: list[Mapping]
    problems: list[ConfigProblem] = field(default_factory=list)
    _warehouse: Warehouse | None = None

    @property
    def warehouse(self) -> Warehouse:
        if self._warehouse is None:
            try:
                self._warehouse = open_warehouse(self.project, self.settings.schema)
            except SegmentProfilesError:
                raise
            except Exception as exc:
                raise SegmentProfilesError(
                    f"cannot connect to the {self.project.adapter_type} warehouse of target "
                    f"{self.project.target_name!r}: {exc}",
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
    return Context(project, settings, mapping_set.mappings, problems + mapping_set.problems)


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
    troubled = {p.mapping for p in problems}
    warehouse = ctx.warehouse
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
        stored = warehouse.stored_fingerprint(mapping)
        if stored is not None and stored != fingerprint(mapping):
            problems.append(
                ConfigProblem(
                    mapping.model_name,
                    mapping.name,
                    "fields",
                    "changed since the last sync, so the state no longer matches what would be "
                    f"sent: run `dbt-segment reset {mapping.name}` to send every row again, or "
                    f"`dbt-segment reset {mapping.name} --rebaseline` to take the current rows "
                    "as synced",
                )
            )
    return problems


def require_valid(ctx: Context, mappings: list[Mapping], write_keys: bool = True) -> None:
    problems = check(ctx, mappings, write_keys)
    if problems:
        raise ConfigError(problems, hint="fix the config, then run `dbt run` and sync again")
