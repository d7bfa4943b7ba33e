"""Issue 10: fitting into dbt pipelines. Each test is named after its item."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from dbt.tests.util import run_dbt

from dbt_segment_profiles.cli import main
from segment_testing import by_mapping, received, segment, segment_project_config, write_seed

HEADER = "id,email,plan"
ROWS = [(1, "a@x.io", "pro"), (2, "b@x.io", "free"), (3, "c@x.io", "free")]

PIPELINE_YML = """
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
              fields: {user_id: id, traits: [email, plan]}
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
              fields: {user_id: id, event_name: {value: Signed Up}, properties: [plan]}
"""


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def flags(project: Any) -> list[str]:
    return [
        "--project-dir",
        str(project.project_root),
        "--profiles-dir",
        str(project.profiles_dir),
    ]


@pytest.mark.usefixtures("sandbox")
class TestPipelines:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {
            "dim_users.sql": "select * from {{ ref('raw_users') }}",
            "fct_signups.sql": "select * from {{ ref('dim_users') }}",
            "broken.sql": "select * from {{ ref('raw_users') }} where {{ var('break', 'true') }}",
            "schema.yml": PIPELINE_YML,
        }

    @pytest.fixture(scope="class")
    @classmethod
    def selectors(cls) -> str:
        return "selectors:\n  - name: profiles\n    definition: 'tag:profiles'\n"

    def test_item_1_run_exits_with_dbts_code_and_still_syncs_what_built(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        write_seed(project, "raw_users", HEADER, ROWS)
        code, out, err = run_cli(
            "run", "--vars", "{break: no_such_column}", "--json", *flags(project)
        )
        document = json.loads(out)  # stdout is one JSON document, dbt's output went to stderr
        assert code == 1 and document["exit_code"] == 1 and document["dbt"]["exit_code"] == 1
        assert by_mapping(document)["users"]["acknowledged"] == 3
        assert "broken" in err
        assert len(received(sandbox)) == 6

    def test_item_4_select_takes_dbts_syntax_and_mapping_names(self, project: Any) -> None:
        run_dbt(["deps"])

        def planned(*args: str) -> set[str]:
            code, document = segment(project, "plan", "--samples", "0", *args)
            assert code == 0, document
            return {p["mapping"] for p in document["plans"]}

        assert planned("--select", "dim_users+") == {"users", "signups"}
        assert planned("--select", "+fct_signups", "--exclude", "dim_users") == {"signups"}
        assert planned("-s", "users", "signups") == {"users", "signups"}
        assert planned("-s", "tag:profiles") == {"users"}
        assert planned("--selector", "profiles") == {"users"}
        assert planned("-s", "path:models/fct_signups.sql") == {"signups"}
        assert planned("-s", "sign*") == {"signups"}

    def test_item_5_logs_as_dbt_and_a_results_file_with_args_and_ids(
        self, project: Any, sandbox: Any, tmp_path: Path
    ) -> None:
        run_dbt(["deps"])
        write_seed(project, "raw_users", HEADER, [*ROWS, (4, "d@x.io", "pro")])
        run_dbt(["run", "--exclude", "broken"])
        code, out, err = run_cli(
            "sync",
            "--log-format",
            "json",
            "--log-level",
            "debug",
            "--log-path",
            str(tmp_path),
            *flags(project),
        )
        assert code == 0, err
        lines = [json.loads(line) for line in err.splitlines() if line.strip()]
        assert lines and all({"info", "data"} <= set(line) for line in lines)
        assert all(line["info"]["level"] in ("debug", "info", "warn", "error") for line in lines)
        log_file = tmp_path / "dbt-segment.log"
        assert log_file.exists() and log_file.read_text().strip()
        results = json.loads(
            (Path(project.project_root) / "target/segment_sync_results.json").read_text()
        )
        assert results["metadata"]["schema_version"] == 2
        assert results["args"][0] == "sync" and "--log-format" in results["args"]
        assert by_mapping(results)["users"]["unique_id"] == "model.test.dim_users"

        code, out, err = run_cli("sync", "--quiet", *flags(project))
        assert code == 0 and err == ""


NO_HOOK_YML = """
version: 2
models:
  - name: dim_users
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: users
              action: identify
              profile_space: default
              fields: {user_id: id, traits: [email]}
  - name: dim_typo
    config:
      meta:
        segmnet:
          primary_key: id
  - name: dim_ephemeral
    config:
      materialized: ephemeral
      meta:
        segment:
          primary_key: id
          mappings:
            - name: ephemeral_users
              action: identify
              profile_space: default
              fields: {user_id: id}
"""


class TestSilentNonCapture:
    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict[str, Any]:
        config = segment_project_config()
        del config["models"]  # the post-hook line is missing
        return config

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        model = "select * from {{ ref('raw_users') }}"
        return {
            "dim_users.sql": model,
            "dim_typo.sql": model,
            "dim_ephemeral.sql": model,
            "schema.yml": NO_HOOK_YML,
        }

    def test_item_2_a_missing_post_hook_a_meta_typo_and_an_ephemeral_model_are_reported(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        write_seed(project, "raw_users", HEADER, ROWS)
        run_dbt(["run"])
        code, document = segment(project, "validate")
        assert code == 2, document
        messages = {(p["model"], p["key"]): p["message"] for p in document["problems"]}
        assert "capture_changes()" in messages[("dim_users", "post-hook")]
        assert "misspelt `segment`" in messages[("dim_typo", "meta.segmnet")]
        assert "is ephemeral" in messages[("dim_ephemeral", "materialized")]
        code, document = segment(project, "sync", "--select", "users")
        assert code == 2 and "capture_changes()" in json.dumps(document)
        assert received(sandbox) == []


ONE_VALIDATION_YML = """
version: 2
models:
  - name: dim_users
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: constant_ids
              action: identify
              profile_space: default
              fields: {user_id: id, message_id: {value: x}}
            - name: empty_group
              action: group
              profile_space: default
              fields: {user_id: id, group_id: {value: ''}}
"""


class TestOneValidation:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {
            "dim_users.sql": "select * from {{ ref('raw_users') }}",
            "schema.yml": ONE_VALIDATION_YML,
        }

    def test_item_3_validate_reports_what_sync_refuses_and_no_traceback(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        write_seed(project, "raw_users", HEADER, ROWS)
        run_dbt(["run"])
        code, document = segment(project, "validate")
        assert code == 2, document
        by_name = {p["mapping"]: p for p in document["problems"]}
        assert "message_id" in by_name["constant_ids"]["key"]
        assert "group_id" in by_name["empty_group"]["key"]

        code, out, err = run_cli("sync", *flags(project))
        assert code == 2 and "Traceback" not in err + out
        results = json.loads(
            (Path(project.project_root) / "target/segment_sync_results.json").read_text()
        )
        assert results["exit_code"] == 2 and "problem" in results["error"]
        assert received(sandbox) == []


@pytest.mark.usefixtures("sandbox")
class TestRegionMessage:
    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict[str, Any]:
        return segment_project_config(region="EUROPE")

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": "select 1 as id", "schema.yml": ONE_VALIDATION_YML}

    def test_item_3_a_wrong_region_is_one_message(self, project: Any) -> None:
        run_dbt(["deps"])
        code, document = segment(project, "validate", "--select", "constant_ids")
        assert code == 2 and "problems" in document, document
        region = [p for p in document["problems"] if "region" in p["key"]]
        assert len(region) == 1 and "expected us or eu" in region[0]["message"], document
        assert not any("unknown profile space" in p["message"] for p in document["problems"])
