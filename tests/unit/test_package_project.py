"""The dbt package's dbt_project.yml agrees with the runner's pyproject.toml."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def bounds(specifiers: list[str]) -> set[tuple[str, tuple[int, ...]]]:
    """(operator, version) pairs, 1.10 and 1.10.0 alike."""
    found = set()
    for specifier in specifiers:
        operator, version = re.fullmatch(r"\s*([<>=!~]+)\s*([\d.]+)\s*", specifier).groups()
        parts = [int(p) for p in version.split(".")]
        while len(parts) > 1 and parts[-1] == 0:
            parts.pop()
        found.add((operator, tuple(parts)))
    return found


def test_require_dbt_version_is_the_runners_dbt_core_range() -> None:
    project = yaml.safe_load((ROOT / "dbt_project.yml").read_text())
    pin = re.search(r'"dbt-core([^"]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert bounds(project["require-dbt-version"]) == bounds(pin.split(","))
