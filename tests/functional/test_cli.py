"""The CLI with dbt's conventions, `run`, plan, status, the results file and the Python API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from dbt.tests.util import run_dbt

import dbt_segment_profiles
from dbt_segment_profiles import plan, sync
from segment_testing import received, segment, sent_counts, write_seed

MODELS_YML = """
version: 2
models:
  - name: dim_users
    config:
      tags: [profiles]
      meta:
        segment:
          primary_key: id
          mappings:
            - name: users
              action: identify
              profile_space: default
              max_deleted_percent: null  # a handful of rows: any delete is a large share
              fields: {user_id: id, traits: [email]}
  - name: fct_signups
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: signups
              action: track
              profile_space: default
              send: [added]
              max_deleted_percent: null
              fields: {user_id: id, event_name: {value: Signed Up}, properties: [plan]}
"""


def sync_json(project: Any, *args: str) -> dict[str, Any]:
    code, document = segment(project, "sync", *args)
    assert code == 0, document
    return document


@pytest.mark.usefixtures("sandbox")
class TestCommandLine:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {
            "dim_users.sql": "select * from {{ ref('raw_users') }}",
            "fct_signups.sql": "select * from {{ ref('raw_users') }}",
            "schema.yml": MODELS_YML,
        }

    def test_select_exclude_plan_status_and_results(self, project: Any, sandbox: Any) -> None:
        run_dbt(["deps"])
        write_seed(project, "raw_users", "id,email,plan", [(1, "a@x.io", "pro"), (2, "b@x", "")])
        run_dbt(["run"])

        code, plans = segment(project, "plan", "--samples", "1")
        assert code == 0
        by_name = {p["mapping"]: p for p in plans["plans"]}
        assert by_name["users"]["pending"] == {"added": 2, "updated": 0, "deleted": 0}
        assert by_name["signups"]["samples"][0]["event"] == "Signed Up"
        assert received(sandbox) == []

        assert sent_counts(sync_json(project, "--select", "tag:profiles")) == {"users": 2}
        assert sent_counts(sync_json(project, "--exclude", "dim_*")) == {"signups": 2}
        # the plan sends nothing and changes no state: now nothing is pending
        code, plans = segment(project, "plan")
        assert all(sum(p["pending"].values()) == 0 for p in plans["plans"])
        assert plans["plans"][0]["samples"] == [] and len(received(sandbox)) == 4
        # plan's samples are exactly what sync sent
        sample = by_name["signups"]["samples"][0]
        assert sample in received(sandbox)

        results = json.loads(
            (Path(project.project_root) / "target" / "segment_sync_results.json").read_text()
        )
        assert results["exit_code"] == 0
        assert [r["mapping"] for r in results["results"]] == ["signups"]

        code, status = segment(project, "status", "--select", "users")
        assert code == 0
        assert [(r["mapping_name"], r["sent"]) for r in status["runs"]] == [("users", 2)]

        code, document = segment(project, "sync", "--select", "nothing_like_this")
        assert code == 2 and "no mappings selected" in document["error"]

    def test_environment_variables_and_a_missing_manifest(
        self, project: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        shutil.rmtree(Path(project.project_root) / "target")
        monkeypatch.setenv("DBT_PROJECT_DIR", str(project.project_root))
        monkeypatch.setenv("DBT_PROFILES_DIR", str(project.profiles_dir))
        monkeypatch.setenv("DBT_TARGET_PATH", "elsewhere")
        monkeypatch.chdir("/")
        from dbt_segment_profiles.cli import main

        assert main(["validate", "--quiet"]) == 0
        assert (Path(project.project_root) / "elsewhere" / "manifest.json").exists()

    def test_python_api_returns_a_result_object(self, project: Any, sandbox: Any) -> None:
        write_seed(project, "raw_users", "id,email,plan", [(1, "new@x.io", "pro"), (2, "b@x", "")])
        run_dbt(["run"])
        root, profiles = str(project.project_root), str(project.profiles_dir)
        (preview,) = plan(project_dir=root, profiles_dir=profiles, select=["users"])
        assert preview.pending["updated"] == 1
        result = sync(project_dir=root, profiles_dir=profiles, select=["users"])
        assert result.exit_code == 0 and result.duration_seconds > 0
        (users,) = result.mappings
        assert (users.mapping, users.acknowledged, users.failed) == ("users", 1, 0)
        assert (
            dbt_segment_profiles.__version__
            in received(sandbox)[-1]["context"]["library"]["version"]
        )

    def test_run_builds_then_syncs_only_the_models_that_built(
        self, project: Any, sandbox: Any
    ) -> None:
        write_seed(project, "raw_users", "id,email,plan", [(1, "x@x.io", "pro"), (3, "c@x", "")])
        code, document = segment(project, "run", "--select", "fct_signups")
        assert code == 0, document
        assert sent_counts(document) == {"signups": 1}

    def test_plain_output_and_the_version_warning(self, project: Any, sandbox: Any) -> None:
        run_dbt(["run"])
        package = Path(project.project_root) / "dbt_packages" / "segment_profiles"
        package.unlink()
        package.mkdir()
        (package / "dbt_project.yml").write_text("name: segment_profiles\nversion: 0.0.1\n")
        code, text = segment_plain(project)
        assert code == 0
        assert "users (dim_users, identify -> default): pending added 1, updated 1" in text
        assert "done in" in text


def segment_plain(project: Any) -> tuple[int, str]:
    import contextlib
    import io

    from dbt_segment_profiles.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(
            [
                "sync",
                "--project-dir",
                str(project.project_root),
                "--profiles-dir",
                str(project.profiles_dir),
            ]
        )
    assert "version 0.0.1" in err.getvalue()
    return code, out.getvalue()
