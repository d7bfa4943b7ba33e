"""`dbt-segment status`: the last runs as a table with UTC times, and each mapping's last error."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from dbt.tests.util import run_dbt

from dbt_segment_profiles.context import load_context
from dbt_segment_profiles.messages.subscriptions import MISSING_USER_ID
from dbt_segment_profiles.report import Reporter
from dbt_segment_profiles.sandbox.faults import Faults
from dbt_segment_profiles.state.orphans import find_orphans
from dbt_segment_profiles.status import last_errors, last_runs
from segment_testing import by_mapping, segment, segment_project_config, write_seed

MODELS_YML = """
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
              max_deleted_percent: null
              fields: {user_id: uid, traits: [email]}
            - name: signups
              action: track
              profile_space: default
              send: [added]
              max_deleted_percent: null
              fields: {user_id: id, event_name: {value: Signed Up}}
"""


def status(project: Any, json_output: bool) -> str:
    """What `status` prints for the project's mappings, with the last errors."""
    ctx = load_context(str(project.project_root), str(project.profiles_dir))
    try:
        out = io.StringIO()
        Reporter(json_output=json_output, out=out).status(
            last_runs(ctx.warehouse, ctx.mappings, 5),
            find_orphans(ctx.warehouse, ctx.mappings),
            last_errors=last_errors(ctx.warehouse, ctx.mappings),
        )
        return out.getvalue()
    finally:
        ctx.close()


class TestStatus:
    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict[str, Any]:
        # one attempt per batch: a 503 fails its rows at once
        return segment_project_config(max_attempts=1)

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": "select * from {{ ref('raw_users') }}", "schema.yml": MODELS_YML}

    def test_status_shows_utc_times_aligned_columns_and_the_last_reason(
        self, project: Any, serve: Any
    ) -> None:
        before = datetime.now(timezone.utc).replace(microsecond=0)
        run_dbt(["deps"])
        write_seed(project, "raw_users", "id,uid,email", [(1, "u1", "a@x.io"), (2, "", "b@x.io")])
        run_dbt(["run"])
        serve()
        code, document = segment(project, "sync")
        assert code == 1 and by_mapping(document)["users"]["rejected"] == 1

        text = status(project, json_output=False)
        lines = text.splitlines()
        table = lines[: lines.index("")]
        assert table[0].split() == [
            "mapping", "started", "(UTC)", "status", "sent", "acknowledged", "rejected", "failed"
        ]  # fmt: skip
        # aligned: every row as wide as the header, each count right-aligned under its name
        assert {len(line) for line in table} == {len(table[0])}
        for line in table[1:]:
            for name in ("sent", "acknowledged", "rejected", "failed"):
                end = table[0].index(name) + len(name)
                assert line[end - 1].isdigit() and line[end : end + 1] in ("", " ")
        started = [re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", line) for line in table[1:]]
        assert all(started) and len(started) == 2
        for match in started:
            when = datetime.fromisoformat(match.group(0).replace("Z", "+00:00"))
            assert before <= when <= datetime.now(timezone.utc) + timedelta(seconds=1)
        assert lines[lines.index("") + 2] == (
            f"  users: 1 row(s); last rejected: {MISSING_USER_ID}"
        )
        assert "signups:" not in text

        # a later failure is the last error; the JSON keeps runs and orphans, and adds it
        write_seed(project, "raw_users", "id,uid,email", [(1, "u1", "new@x.io"), (2, "u2", "b")])
        run_dbt(["run"])
        serve(Faults(always_status=503))
        code, document = segment(project, "sync", "--select", "users")
        assert code == 1 and by_mapping(document)["users"]["failed"] == 2
        document = json.loads(status(project, json_output=True))
        assert set(document) == {"runs", "orphans", "last_errors"}
        assert document["orphans"] == []
        error = document["last_errors"]["users"]
        assert (error["kind"], error["rows"]) == ("failed", 2)
        assert "HTTP 503" in error["reason"]
        assert [r["mapping_name"] for r in document["runs"]] == ["users", "users", "signups"]
        for run in document["runs"]:
            assert run["started_at"].endswith("+00:00")
            assert datetime.fromisoformat(run["started_at"]) >= before

        # the command as wired today still answers with its runs and orphans
        code, document = segment(project, "status")
        assert code == 0 and {"runs", "orphans"} <= set(document)
