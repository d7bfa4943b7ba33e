"""The write key never appears in a log line, an error, a table or an artifact."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
from dbt.tests.util import run_dbt

from dbt_segment_profiles.cli import main
from dbt_segment_profiles.sandbox import Faults, Sandbox
from segment_testing import ENDPOINT_ENV, WRITE_KEY_ENV, release_duckdb, write_seed

SECRET = "wk-SECRET-7f3a9c21e5"

YML = """
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
"""


def run_cli(project: Any, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(
            [
                *args,
                "--project-dir",
                str(project.project_root),
                "--profiles-dir",
                str(project.profiles_dir),
            ]
        )
    return code, out.getvalue()


class TestWriteKeySecrecy:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": "select * from {{ ref('raw_users') }}", "schema.yml": YML}

    def test_the_key_is_nowhere_but_in_the_environment(
        self, project: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(WRITE_KEY_ENV, SECRET)
        run_dbt(["deps"])
        write_seed(project, "raw_users", "id,email", [(1, "a@x.io"), (2, "b@x.io")])
        run_dbt(["run"])
        outputs = []
        # refused (401), then accepted, then a rejected row and a failing server
        for expected_key, faults_status in (("other", None), (SECRET, None), (SECRET, 500)):
            faults = Faults(always_status=faults_status) if faults_status else None
            with Sandbox(
                output=tmp_path / "received.jsonl", write_key=expected_key, faults=faults
            ) as box:
                monkeypatch.setenv(ENDPOINT_ENV, box.url)
                for command in (["validate"], ["plan"], ["sync"], ["sync", "--json"], ["status"]):
                    outputs.append(run_cli(project, *command)[1])
            write_seed(project, "raw_users", "id,email", [(1, "c@x.io"), (3, "d@x.io")])
            run_dbt(["run"])

        assert any("refused the write key" in text for text in outputs)
        assert not [text for text in outputs if SECRET in text]
        leaks = [
            path
            for path in Path(project.project_root).rglob("*")
            if path.is_file() and SECRET.encode() in path.read_bytes()
        ]
        assert leaks == []
        assert SECRET not in (tmp_path / "received.jsonl").read_text()
        schema = f"{project.test_schema}_segment"
        for table in (
            "segment_runs",
            "segment_record_issues",
            "segment_mappings",
            "users__state",
            "users__pending",
            "users__invalid",
        ):
            rows = project.run_sql(f"select * from {schema}.{table}", fetch="all")
            assert SECRET not in repr(rows)
        if project.adapter_type == "duckdb":
            release_duckdb()
            database = Path(project.adapter.config.credentials.path)
            for path in (database, Path(f"{database}.wal")):
                assert not path.exists() or SECRET.encode() not in path.read_bytes()
