"""The write key never appears in a log line, an error, a table or an artifact."""

from __future__ import annotations

import base64
import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
from dbt.tests.util import run_dbt

from dbt_segment_profiles.cli import main
from dbt_segment_profiles.sandbox import Faults, Sandbox
from segment_testing import (
    ENDPOINT_ENV,
    WRITE_KEY_ENV,
    release_duckdb,
    segment_project_config,
    write_seed,
)

SECRET = "wk-SECRET-7f3a9c21e5"


@pytest.fixture(scope="module", autouse=True)
def dbt_debug_log_file() -> Any:
    """dbt's own log file at debug level (tests/conftest.py turns it off elsewhere): the
    files searched for the key below include it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBT_LOG_LEVEL_FILE", "debug")
        yield


def written_files(project: Any, logs_dir: str) -> list[Path]:
    """Every file the project's commands wrote: the project (target/, the runner's logs/, the
    results file) and dbt's own log directory, whose log of the `dbt run`s (at debug level)
    must be among them."""
    files = [p for root in (project.project_root, logs_dir) for p in Path(root).rglob("*")]
    files = [path for path in files if path.is_file()]
    dbt_log = Path(logs_dir) / "dbt.log"
    assert dbt_log in files and b"Running with dbt=" in dbt_log.read_bytes(), logs_dir
    return files


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
    def project_config_update(cls) -> dict[str, Any]:
        # every attempt still goes out (the default max_attempts); only the waits between them
        # shrink: the failing server's retries slept up to a minute per sync, and proved nothing
        return segment_project_config(backoff_seconds=0.01, max_backoff_seconds=0.05)

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": "select * from {{ ref('raw_users') }}", "schema.yml": YML}

    def test_the_key_is_nowhere_but_in_the_environment(
        self, project: Any, logs_dir: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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
            for path in written_files(project, logs_dir)
            if SECRET.encode() in path.read_bytes()
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


class TestAKeyEchoedByTheServerIsRedacted:
    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict[str, Any]:
        return segment_project_config(
            max_attempts=2, backoff_seconds=0.01, max_backoff_seconds=0.05
        )

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": "select * from {{ ref('raw_users') }}", "schema.yml": YML}

    def test_stdout_results_file_and_issue_table_carry_no_form_of_the_key(
        self, project: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(WRITE_KEY_ENV, SECRET)
        run_dbt(["deps"])
        write_seed(project, "raw_users", "id,email", [(1, "a@x.io"), (2, "b@x.io")])
        run_dbt(["run"])
        forms = [SECRET] + [
            base64.b64encode(raw.encode()).decode().rstrip("=") for raw in (f"{SECRET}:", SECRET)
        ]
        results_file = Path(project.project_root) / "target" / "segment_sync_results.json"
        issues = f"select kind, reason from {project.test_schema}_segment.segment_record_issues"
        texts = []
        # a proxy echoing the credentials in a 400 (rejected), a 401 and a 503 (failed)
        for status in (400, 401, 503):
            faults = Faults(always_status=status, echo_authorization=True)
            with Sandbox(write_key=SECRET, faults=faults) as box:
                monkeypatch.setenv(ENDPOINT_ENV, box.url)
                for command in (["sync"], ["sync", "--json"], ["status"]):
                    texts.append(run_cli(project, *command)[1])
                    texts.append(results_file.read_text())
            rows = project.run_sql(issues, fetch="all")
            assert {kind for kind, _ in rows} == {"rejected" if status == 400 else "failed"}
            texts.append(repr(rows))

        assert not [(form, text) for text in texts for form in forms if form in text]
        assert sum("[redacted]" in text for text in texts) >= 9  # the echo did reach them all


TOKEN = "sgp-TOKEN-SECRET-c81d44"
RESOLVED = "wk-RESOLVED-SECRET-e07b"
PUBLIC_ENDPOINT_ENV = "SEGMENT_TEST_PUBLIC_API_ENDPOINT"
TOKEN_ENV = "SEGMENT_TEST_PUBLIC_API_TOKEN"


def forms(secret: str) -> list[str]:
    """The secret as it is sent: raw, and base64 of "secret:" and "secret" (Basic auth)."""
    return [secret] + [
        base64.b64encode(raw.encode()).decode().rstrip("=") for raw in (f"{secret}:", secret)
    ]


class TestAPublicApiTokenAndTheKeyItLooksUpAreNowhere:
    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict[str, Any]:
        return segment_project_config(
            write_key_env=None,
            public_api_token_env=TOKEN_ENV,
            source="Production Space",
            public_api_endpoint="{{ env_var('" + PUBLIC_ENDPOINT_ENV + "') }}",
            max_attempts=2,
            backoff_seconds=0.01,
            max_backoff_seconds=0.05,
        )

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": "select * from {{ ref('raw_users') }}", "schema.yml": YML}

    def test_neither_is_in_outputs_files_or_tables_even_when_servers_echo_them(
        self, project: Any, logs_dir: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from dbt_segment_profiles.sandbox import public_source

        monkeypatch.setenv(TOKEN_ENV, TOKEN)
        run_dbt(["deps"])
        write_seed(project, "raw_users", "id,email", [(1, "a@x.io"), (2, "b@x.io")])
        run_dbt(["run"])
        sources = [
            public_source("Staging Space", "wk-other"),
            public_source("Production Space", RESOLVED),
            public_source("Website", "wk-web", kind="javascript"),
        ]
        commands = (
            ["validate"],
            ["plan"],
            ["spaces"],
            ["spaces", "--all", "--json"],
            ["sync", "--log-level", "debug"],
            ["sync", "--json"],
            ["status"],
        )
        outputs = []
        # (token the Public API expects, fault of the Tracking API): all well; a refused token
        # echoed back; the looked-up key echoed back in a 401, a 400 and a 503
        for expected_token, status in ((TOKEN, None), ("other", None), (TOKEN, 401), (TOKEN, 400)):
            echo = Faults(echo_authorization=True)
            tracking_faults = (
                Faults(always_status=status, echo_authorization=True) if status else None
            )
            with (
                Sandbox(
                    public_sources=sources,
                    public_api_token=expected_token,
                    public_page_size=1,
                    faults=echo,
                ) as public_api,
                Sandbox(
                    output=tmp_path / "received.jsonl", write_key=RESOLVED, faults=tracking_faults
                ) as tracking,
            ):
                monkeypatch.setenv(PUBLIC_ENDPOINT_ENV, public_api.url)
                monkeypatch.setenv(ENDPOINT_ENV, tracking.url)
                for command in commands:
                    outputs.append(run_cli(project, *command)[1])
                results = Path(project.project_root) / "target" / "segment_sync_results.json"
                outputs.append(results.read_text())
            write_seed(project, "raw_users", "id,email", [(1, "c@x.io"), (2, "d@x.io")])
            run_dbt(["run"])

        assert any("refused the token" in text for text in outputs)
        assert any("refused the write key" in text for text in outputs)
        assert any("Bearer [redacted]" in text for text in outputs)  # the echo did reach them
        secrets = forms(TOKEN) + forms(RESOLVED)
        assert not [(s, text) for text in outputs for s in secrets if s in text]
        leaks = [
            (path, secret)
            for path in written_files(project, logs_dir)
            for secret in secrets
            if secret.encode() in path.read_bytes()
        ]
        assert leaks == []  # target/, both logs (debug level included), the results file
        assert not [s for s in secrets if s in (tmp_path / "received.jsonl").read_text()]
        schema = f"{project.test_schema}_segment"
        for table in (
            "segment_runs",
            "segment_record_issues",
            "segment_mappings",
            "users__state",
            "users__acks",
            "users__pending",
            "users__invalid",
        ):
            rows = repr(project.run_sql(f"select * from {schema}.{table}", fetch="all"))
            assert not [s for s in secrets if s in rows], table
        if project.adapter_type == "duckdb":
            release_duckdb()
            database = Path(project.adapter.config.credentials.path)
            for path in (database, Path(f"{database}.wal")):
                assert not path.exists() or not [
                    s for s in secrets if s.encode() in path.read_bytes()
                ]
