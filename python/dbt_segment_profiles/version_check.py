"""A warning when the dbt package a project installed and this runner differ in version."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import yaml

from . import __version__


class _Notes(Protocol):
    def warning(self, message: str) -> None: ...


def installed_package_version(project_dir: Path) -> str | None:
    path = project_dir / "dbt_packages" / "segment_profiles" / "dbt_project.yml"
    try:
        return str((yaml.safe_load(path.read_text()) or {}).get("version"))
    except (OSError, yaml.YAMLError):
        return None


def warn_on_version_mismatch(project_dir: Path, notes: _Notes) -> str | None:
    """The warning given, if the installed dbt package is not this runner's version."""
    installed = installed_package_version(project_dir)
    if installed is None or installed == __version__:
        return None
    message = (
        f"the dbt package segment_profiles in dbt_packages is version {installed}, but the "
        f"dbt-segment runner is {__version__}: install matching versions (packages.yml "
        "revision and pip), then `dbt deps`"
    )
    notes.warning(message)
    return message
