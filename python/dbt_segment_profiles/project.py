"""Finding the dbt things: project dir, profiles, target, vars and the manifest, as dbt does."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .errors import SegmentProfilesError
from .manifest_reader import ManifestError, read_manifest

if TYPE_CHECKING:
    from dbt.config.runtime import RuntimeConfig

_PROJECT_FILES = ("*.sql", "*.py", "*.yml", "*.yaml", "*.csv")
_SOURCE_DIRS = ("models", "macros", "seeds", "snapshots")


@dataclass(frozen=True)
class DbtProject:
    """A dbt project as the runner sees it: dbt's own runtime config for the target, and where
    things are."""

    config: RuntimeConfig = field(repr=False, compare=False)

    @property
    def project_dir(self) -> Path:
        return Path(self.config.project_root)

    @property
    def profiles_dir(self) -> Path:
        return Path(self.config.args.PROFILES_DIR)

    @property
    def target_name(self) -> str:
        return str(self.config.target_name)

    @property
    def target(self) -> dict[str, Any]:
        """The target as dbt's `{{ target }}` shows it (credentials' aliases included)."""
        return self.config.to_target_dict()

    @property
    def target_path(self) -> Path:
        return Path(self.config.project_target_path)

    @property
    def name(self) -> str:
        return str(self.config.project_name)

    @property
    def vars(self) -> dict[str, Any]:
        """The project's vars with --vars over them, as `var()` sees them (unrendered)."""
        merged = dict(self.config.vars.vars)
        merged.update(self.config.cli_vars)
        return merged

    @property
    def manifest_path(self) -> Path:
        return self.target_path / "manifest.json"

    @property
    def adapter_type(self) -> str:
        return str(self.config.credentials.type)


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
    """dbt's runtime config for the project, resolved as a dbt command resolves it: the same
    flags, DBT_* variables and defaults, profiles.yml rendered by dbt (every adapter option)."""
    from dbt.cli.flags import Flags, args_to_context
    from dbt.cli.resolvers import default_project_dir
    from dbt.config.runtime import RuntimeConfig, load_profile, load_project
    from dbt.flags import set_flags
    from dbt_common.context import set_invocation_context
    from dbt_common.exceptions import DbtBaseException

    root = Path(project_dir or os.environ.get("DBT_PROJECT_DIR") or default_project_dir())
    if not (root / "dbt_project.yml").exists():
        raise SegmentProfilesError(
            f"no dbt_project.yml in {root.resolve()}",
            hint="run from your dbt project or pass --project-dir",
        )
    unset = not (profiles_dir or os.environ.get("DBT_PROFILES_DIR"))
    if unset and not Path("profiles.yml").exists() and (root / "profiles.yml").exists():
        # as earlier versions did: a profiles.yml next to dbt_project.yml, found from anywhere
        profiles_dir = root
    argv = ["run"]
    for flag, value in (
        ("--project-dir", project_dir),
        ("--profiles-dir", profiles_dir),
        ("--target", target),
        ("--vars", json.dumps(cli_vars) if cli_vars else None),
    ):
        if value:
            argv += [flag, str(value)]
    # env_var() reads the environment as it is now, as each dbt invocation does
    set_invocation_context(os.environ)
    try:
        flags = Flags(args_to_context(argv))
    except Exception as exc:  # click's own usage errors, e.g. a --profiles-dir that is missing
        raise SegmentProfilesError(_one_line(exc)) from None
    project_root = Path(flags.PROJECT_DIR).resolve()
    set_flags(flags)
    try:
        profile = load_profile(
            str(project_root), flags.VARS, flags.PROFILE, flags.TARGET, flags.THREADS
        )
        # not validate=True: that only checks dbt_project.yml against dbt's JSON schema for
        # deprecation warnings, which `dbt run` gave already (0.1 s of every command)
        project = load_project(str(project_root), bool(flags.VERSION_CHECK), profile, flags.VARS)
        config = RuntimeConfig.from_parts(project, profile, flags)
    except DbtBaseException as exc:
        raise dbt_error(exc, f"dbt cannot read the project in {project_root}") from None
    return DbtProject(config)


def dbt_error(exc: BaseException, context: str) -> SegmentProfilesError:
    """A dbt exception as one line, naming what the user must fix."""
    from dbt.exceptions import EnvVarMissingError

    if isinstance(exc, EnvVarMissingError):
        return SegmentProfilesError(
            f"env_var('{exc.var}') is used in the dbt config but the variable is not set",
            hint=f"export {exc.var}=... or give env_var a default",
        )
    return SegmentProfilesError(f"{context}: {_one_line(exc)}")


def _one_line(exc: BaseException) -> str:
    text = getattr(exc, "msg", None) or str(exc)
    return " ".join(str(text).split())


def vars_context(target: dict[str, Any], cli_vars: dict[str, Any] | None = None) -> dict[str, Any]:
    """A rendering context with `target`, `env_var`, `var` (--vars only) and dbt's filters."""
    from dbt.context.target import TargetContext

    return TargetContext(target, cli_vars or {}).to_dict()


def render_vars(value: Any, context: dict[str, Any]) -> Any:
    """Jinja in a var rendered by dbt's own renderer, as dbt renders profiles.yml: native
    types, `as_number`, `as_bool`..., `env_var` with its default."""
    from dbt.config.renderer import BaseRenderer
    from dbt_common.context import set_invocation_context
    from dbt_common.exceptions import DbtBaseException

    # env_var() reads the environment as it is now
    set_invocation_context(os.environ)
    try:
        if isinstance(value, dict):
            return BaseRenderer(context).render_data(value)
        return BaseRenderer(context).render_value(value)
    except DbtBaseException as exc:
        missing = _missing_env_var(exc)
        raise dbt_error(missing or exc, "vars.segment_profiles cannot be rendered") from None


def _missing_env_var(exc: BaseException) -> BaseException | None:
    from dbt.exceptions import EnvVarMissingError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, EnvVarMissingError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def segment_vars(project: DbtProject) -> Any:
    """The `segment_profiles` var, rendered as dbt renders Jinja in its config: `target`,
    `env_var`, `var`, `as_number`... (a value dbt itself hands the macros unrendered)."""
    from dbt.context.configured import generate_schema_yml_context

    raw = project.vars.get("segment_profiles") or {}
    return render_vars(raw, generate_schema_yml_context(project.config, project.name))


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
    manifest = _read(path)
    if not _built_for(manifest, project):
        # the last dbt command ran for another target: its relations are not this target's
        _parse_project(project, cli_vars)
        manifest = _read(path)
    return manifest


def _read(path: Path) -> dict[str, Any]:
    """What the runner reads of the manifest (manifest_reader.py: not the whole file at once)."""
    try:
        return read_manifest(path)
    except FileNotFoundError:
        raise SegmentProfilesError(
            f"{path} not found after parsing the project",
            hint="run `dbt parse` and look at its errors",
        ) from None
    except (ManifestError, UnicodeDecodeError) as exc:
        raise SegmentProfilesError(
            f"{path} cannot be read: {exc}",
            hint="run `dbt parse` to write it again",
        ) from None


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
