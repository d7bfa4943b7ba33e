"""dbt's classes compiled on first use (the command-line process): dbt reads a project, its
profile and its errors exactly as with every class compiled up front."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dbt_segment_profiles.lazy_compilation import compile_lazily

DBT_PROJECT = """\
name: lazy_check
version: "1.0"
config-version: 2
profile: lazy_check
vars:
  segment_profiles:
    profile_spaces:
      default: {write_key_env: LAZY_CHECK_KEY}
  region: "{{ env_var('LAZY_CHECK_REGION', 'eu') }}"
models:
  lazy_check:
    +materialized: table
    +meta: {owner: data}
"""

PROFILES = """\
lazy_check:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{{ env_var('LAZY_CHECK_DIR') }}/lazy.duckdb"
      threads: 4
      settings: {memory_limit: 64MB}
    broken:
      type: duckdb
      path: lazy.duckdb
      threads: many
"""

# a fresh interpreter, as the console script starts: compile lazily (or not), then let dbt read
# the project as the runner does, and print what it read
CHILD = """
import json, sys
lazy = sys.argv[1] == "lazy"
if lazy:
    from dbt_segment_profiles.lazy_compilation import compile_lazily
    assert compile_lazily()
from mashumaro.config import BaseConfig
from dbt_segment_profiles.errors import SegmentProfilesError
from dbt_segment_profiles.project import locate
project = locate(project_dir=sys.argv[2], profiles_dir=sys.argv[2])
config = project.config
try:
    locate(project_dir=sys.argv[2], profiles_dir=sys.argv[2], target="broken")
    refused = None
except SegmentProfilesError as error:
    refused = str(error)
print(json.dumps({
    "lazy": BaseConfig.lazy_compilation,
    "target": project.target,
    "credentials": config.credentials.to_dict(),
    "project": config.to_project_config(with_packages=True),
    "vars": project.vars,
    "refused": refused,
}, default=str, sort_keys=True))
"""


def read_in_child(mode: str, project_dir: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "LAZY_CHECK_DIR": str(project_dir),
        "LAZY_CHECK_REGION": "us",
        # dbt builds docs-paths from a set: one string hash seed orders it alike in both
        "PYTHONHASHSEED": "0",
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(project_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_dbt_reads_the_same_project_profile_and_errors_with_lazy_classes(tmp_path: Path) -> None:
    (tmp_path / "dbt_project.yml").write_text(DBT_PROJECT)
    (tmp_path / "profiles.yml").write_text(PROFILES)
    lazy, eager = read_in_child("lazy", tmp_path), read_in_child("eager", tmp_path)
    assert lazy.pop("lazy") is True
    assert eager.pop("lazy") is False
    assert lazy == eager
    # what was read is the project's, with env_var() rendered and the profile's options
    assert lazy["target"]["threads"] == 4
    assert lazy["credentials"]["path"] == f"{tmp_path}/lazy.duckdb"
    assert lazy["credentials"]["settings"] == {"memory_limit": "64MB"}
    assert lazy["vars"]["region"] == "{{ env_var('LAZY_CHECK_REGION', 'eu') }}"
    assert "threads" in lazy["refused"] and "many" in lazy["refused"]


def test_too_late_once_dbt_has_defined_its_classes() -> None:
    # this process imported dbt already (the test fixtures): its classes stay as they are
    pytest.importorskip("dbt_common.dataclass_schema")
    from mashumaro.config import BaseConfig

    before = BaseConfig.lazy_compilation
    assert compile_lazily() is False
    assert BaseConfig.lazy_compilation is before
