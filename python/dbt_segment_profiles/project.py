"""Finding the dbt things: project dir, profiles, target, vars and the manifest, as dbt does."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

from .errors import SegmentProfilesError

_PROJECT_FILES = ("*.sql", "*.py", "*.yml", "*.yaml", "*.csv")
_SOURCE_DIRS = ("models", "macros", "seeds", "snapshots")


@dataclass(frozen=True)
class DbtProject:
    """A dbt project as the runner sees it: where things are and the resolved target."""

    project_dir: Path
    profiles_dir: Path
    target_name: str
    target: dict[str, Any]
    target_path: Path
    project: dict[str, Any]
    vars: dict[str, Any] = field(default_factory=dict)

    @property
    def manifest_path(self) -> Path:
        return self.target_path / "manifest.json"

    @property
    def adapter_type(self) -> str:
        return str(self.target.get("type", ""))


def _env_var(name: str, default: str | None = None) -> str:
    if name in os.environ:
        return os.environ[name]
    if default is not None:
        return default
    raise SegmentProfilesError(
        f"env_var('{name}') is used in the dbt config but the variable is not set",
        hint=f"export {name}=... or give env_var a default",
    )


def _jinja(target: dict[str, Any] | None = None) -> jinja2.Environment:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.globals["env_var"] = _env_var
    if target is not None:
        env.globals["target"] = target
    env.filters["as_number"] = lambda v: v
    env.filters["as_bool"] = lambda v: v
    env.filters["as_text"] = lambda v: v
    env.filters["as_native"] = lambda v: v
    return env


def render(value: Any, env: jinja2.Environment | None = None) -> Any:
    """Render the Jinja in a YAML value the way dbt renders profiles and vars."""
    env = env or _jinja()
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        return yaml.safe_load(env.from_string(value).render()) if value else value
    if isinstance(value, dict):
        return {k: render(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, env) for v in value]
    return value


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise SegmentProfilesError(f"{path} not found") from None
    except yaml.YAMLError as exc:
        raise SegmentProfilesError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SegmentProfilesError(f"{path} must hold a mapping")
    return data


def parse_vars(raw: str | None) -> dict[str, Any]:
    """`--vars` as dbt takes it: a YAML (or JSON) mapping."""
    if not raw:
        return {}
    try:
        parsed = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise SegmentProfilesError(f"--vars is not valid YAML: {exc}") from None
    if not isinstance(parsed, dict):
        raise SegmentProfilesError("--vars must be a YAML mapping, e.g. '{key: value}'")
    return parsed


def locate(
    project_dir: str | Path | None = None,
    profiles_dir: str | Path | None = None,
    target: str | None = None,
    cli_vars: dict[str, Any] | None = None,
) -> DbtProject:
    """Resolve the project like dbt: flags first, then DBT_* variables, then defaults."""
    project_root = Path(project_dir or os.environ.get("DBT_PROJECT_DIR") or ".").resolve()
    if not (project_root / "dbt_project.yml").exists():
        raise SegmentProfilesError(
            f"no dbt_project.yml in {project_root}",
            hint="run from your dbt project or pass --project-dir",
        )
    project = _read_yaml(project_root / "dbt_project.yml")
    profiles_root = _profiles_dir(profiles_dir, project_root)
    profiles = _read_yaml(profiles_root / "profiles.yml")
    profile_name = project.get("profile")
    if profile_name not in profiles:
        raise SegmentProfilesError(
            f"profile {profile_name!r} of {project_root / 'dbt_project.yml'} is not in "
            f"{profiles_root / 'profiles.yml'}"
        )
    profile = profiles[profile_name]
    target_name = target or render(profile.get("target")) or "default"
    outputs = profile.get("outputs") or {}
    if target_name not in outputs:
        raise SegmentProfilesError(
            f"target {target_name!r} is not in profile {profile_name!r}",
            hint=f"targets there: {', '.join(outputs) or 'none'}",
        )
    target_path_name = os.environ.get("DBT_TARGET_PATH") or project.get("target-path") or "target"
    target_path = Path(target_path_name)
    if not target_path.is_absolute():
        target_path = project_root / target_path
    merged_vars = dict(project.get("vars") or {})
    merged_vars.update(cli_vars or {})
    return DbtProject(
        project_dir=project_root,
        profiles_dir=profiles_root,
        target_name=target_name,
        target=render(outputs[target_name]),
        target_path=target_path,
        project=project,
        vars=merged_vars,
    )


def _profiles_dir(flag: str | Path | None, project_root: Path) -> Path:
    if flag:
        return Path(flag).resolve()
    if os.environ.get("DBT_PROFILES_DIR"):
        return Path(os.environ["DBT_PROFILES_DIR"]).resolve()
    if (project_root / "profiles.yml").exists():
        return project_root
    return Path.home() / ".dbt"


def segment_vars(project: DbtProject) -> Any:
    """The `segment_profiles` var, rendered (it may use env_var and target, as in dbt)."""
    target = {**project.target, "name": project.target_name, "target_name": project.target_name}
    return render(project.vars.get("segment_profiles") or {}, _jinja(target))


def _newest_source_mtime(project: DbtProject) -> float:
    newest = (project.project_dir / "dbt_project.yml").stat().st_mtime
    for folder in _SOURCE_DIRS:
        root = project.project_dir / folder
        if not root.is_dir():
            continue
        for pattern in _PROJECT_FILES:
            for path in root.rglob(pattern):
                newest = max(newest, path.stat().st_mtime)
    return newest


def load_manifest(project: DbtProject, cli_vars: str | None = None) -> dict[str, Any]:
    """The manifest; parsed anew (dbt's own parser) when missing or older than the project."""
    path = project.manifest_path
    if not path.exists() or path.stat().st_mtime < _newest_source_mtime(project):
        _parse_project(project, cli_vars)
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise SegmentProfilesError(
            f"{path} not found after parsing the project",
            hint="run `dbt parse` and look at its errors",
        ) from None
    if not _built_for(manifest, project):
        # the last dbt command ran for another target: its relations are not this target's
        _parse_project(project, cli_vars)
        manifest = json.loads(path.read_text())
    return manifest


def _built_for(manifest: dict[str, Any], project: DbtProject) -> bool:
    """Whether the manifest's own models live where this target puts them: a model without a
    custom schema (or database) lives in the target's own."""
    schema = str(project.target.get("schema") or "").lower()
    database = str(project.target.get("database") or project.target.get("dbname") or "").lower()
    name = manifest.get("metadata", {}).get("project_name")
    plain = [
        n
        for n in manifest.get("nodes", {}).values()
        if n.get("resource_type") == "model"
        and n.get("package_name") == name
        and not (n.get("config") or {}).get("schema")
        and not (n.get("config") or {}).get("database")
    ]
    if not plain or not schema:
        return True
    node = plain[0]
    node_database = str(node.get("database") or "").lower()
    return str(node.get("schema") or "").lower() == schema and (
        not database or not node_database or node_database == database
    )


def dbt_flags(project: DbtProject, cli_vars: str | None = None) -> list[str]:
    """The flags that point a dbt command at the same project, profile and target."""
    flags = [
        "--project-dir",
        str(project.project_dir),
        "--profiles-dir",
        str(project.profiles_dir),
        "--target",
        project.target_name,
    ]
    return flags + ["--vars", cli_vars] if cli_vars else flags


def _parse_project(project: DbtProject, cli_vars: str | None) -> None:
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(["parse", "--quiet", *dbt_flags(project, cli_vars)])
    if not result.success:
        raise SegmentProfilesError(
            f"dbt could not parse the project in {project.project_dir}: {result.exception}",
            hint="run `dbt parse` to see the error",
        )
