"""Change capture: the hash, the send list, mapping changes, reset, quoting, Python models."""

from __future__ import annotations

from typing import Any

import pytest
from dbt.tests.util import run_dbt, write_file

from dbt_segment_profiles.context import load_context
from segment_testing import by_mapping, received, segment, sent_counts, write_seed

HEADER = "id,email,plan,note"
EMPTY_AS_BLANK_SQL = """
select id, email, case when plan = 'EMPTY' then '' else plan end as plan, note
from {{ ref('raw_users') }}
"""


def mapping_yml(traits: str = "[email, plan]", send: str = "[added, updated]") -> str:
    return f"""
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
              send: {send}
              fields:
                user_id: id
                traits: {traits}
"""


@pytest.mark.usefixtures("sandbox")
class TestHashAndSendList:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {
            # a CSV cannot tell '' from NULL: EMPTY stands for ''
            "dim_users.sql": EMPTY_AS_BLANK_SQL,
            "schema.yml": mapping_yml(send="[added]"),
        }

    def test_hash_is_null_safe_and_ignores_unmapped_columns_and_key_order(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        write_seed(
            project, "raw_users", HEADER, [(1, "a@x.io", "", "n"), (2, "b@x.io", "pro", "n")]
        )
        run_dbt(["run"])
        assert segment(project, "sync")[0] == 0
        assert len(received(sandbox)) == 2

        # send: [added] only: an update is not pending, and is taken into the state at once
        write_seed(
            project, "raw_users", HEADER, [(1, "a@x.io", "EMPTY", "n"), (2, "b@x.io", "free", "n")]
        )
        run_dbt(["run"])
        code, document = segment(project, "sync")
        assert code == 0 and sent_counts(document) == {"users": 0}

        write_file(
            mapping_yml(send="[added, updated]"), project.project_root, "models", "schema.yml"
        )
        # '' -> NULL is a change; a change of an unmapped column is not
        write_seed(
            project,
            "raw_users",
            HEADER,
            [(1, "a@x.io", None, "n"), (2, "b@x.io", "free", "other")],
        )
        run_dbt(["run"])
        code, document = segment(project, "sync")
        assert code == 0, document
        assert by_mapping(document)["users"]["acknowledged_by_operation"]["updated"] == 1
        assert received(sandbox)[-1]["traits"] == {"email": "a@x.io", "plan": None}

        # the same fields in another order: same hash and fingerprint, nothing to send
        yml = mapping_yml(traits="[plan, email]", send="[updated, added]")
        write_file(yml, project.project_root, "models", "schema.yml")
        run_dbt(["run"])
        code, document = segment(project, "sync")
        assert code == 0, document
        assert sent_counts(document) == {"users": 0}


@pytest.mark.usefixtures("sandbox")
class TestMappingChangeAndReset:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {
            "dim_users.sql": "select * from {{ ref('raw_users') }}",
            "schema.yml": mapping_yml(traits="[email]"),
        }

    def test_changed_fields_are_refused_until_reset_or_rebaseline(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        rows = [(1, "a@x.io", "pro", "n"), (2, "b@x.io", "free", "n"), (3, "c@x.io", "free", "n")]
        write_seed(project, "raw_users", HEADER, rows)
        run_dbt(["run"])
        assert segment(project, "sync")[0] == 0
        assert len(received(sandbox)) == 3

        write_file(
            mapping_yml(traits="[email, plan]"), project.project_root, "models", "schema.yml"
        )
        run_dbt(["run"])
        code, document = segment(project, "sync")
        assert code == 2
        (blocked,) = document["results"]
        assert (blocked["mapping"], blocked["status"], blocked["sent"]) == ("users", "blocked", 0)
        assert "dbt-segment reset users" in blocked["error"]
        assert "--rebaseline" in blocked["error"]
        assert len(received(sandbox)) == 3

        code, document = segment(project, "reset", "users")
        assert code == 0, document
        assert document["pending"] == {"added": 3, "updated": 0, "deleted": 0}
        code, document = segment(project, "sync")
        assert code == 0 and sent_counts(document) == {"users": 3}
        assert all("plan" in m["traits"] for m in received(sandbox)[3:])

        write_file(mapping_yml(traits="[plan]"), project.project_root, "models", "schema.yml")
        run_dbt(["run"])
        assert segment(project, "sync")[0] == 2
        code, document = segment(project, "reset", "users", "--rebaseline")
        assert code == 2 and "--yes" in document["error"], document
        code, document = segment(project, "reset", "users", "--rebaseline", "--yes")
        assert code == 0, document
        assert document["pending"] == {"added": 0, "updated": 0, "deleted": 0}
        code, document = segment(project, "sync")
        assert code == 0 and sent_counts(document) == {"users": 0}

        # after a rebaseline, real changes flow again
        write_seed(project, "raw_users", HEADER, [*rows[:2], (3, "c@x.io", "pro", "n")])
        run_dbt(["run"])
        code, document = segment(project, "sync")
        assert code == 0 and sent_counts(document) == {"users": 1}
        assert received(sandbox)[-1]["traits"] == {"plan": "pro"}


QUOTED_SQL = """
select id as "select", email as "First Name", plan as "Plan"
from {{ ref('raw_users') }}
"""

QUOTED_YML = """
version: 2
models:
  - name: dim_quoted
    config:
      meta:
        segment:
          primary_key: select
          mappings:
            - name: quoted
              action: identify
              profile_space: default
              fields:
                user_id: select
                traits: {name: First Name, plan: Plan}
  - name: dim_other
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: other
              action: track
              profile_space: default
              fields: {user_id: id, event_name: {value: Seen}, properties: [plan]}
"""


@pytest.mark.usefixtures("sandbox")
class TestQuotingAndThreads:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {
            "dim_quoted.sql": QUOTED_SQL,
            "dim_other.sql": "select * from {{ ref('raw_users') }}",
            "schema.yml": QUOTED_YML,
        }

    def test_reserved_words_and_spaces_in_column_names_map_fine(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        write_seed(project, "raw_users", HEADER, [(1, "a@x.io", "pro", "n")])
        # two mapped models captured at once on four threads
        run_dbt(["run", "--threads", "4"])
        code, document = segment(project, "sync")
        assert code == 0, document
        assert sent_counts(document) == {"quoted": 1, "other": 1}
        messages = {m["type"]: m for m in received(sandbox)}
        assert messages["identify"]["traits"] == {"name": "a@x.io", "plan": "pro"}
        assert messages["track"]["event"] == "Seen"
        assert messages["track"]["properties"] == {"plan": "pro"}


PYTHON_MODEL = """
def model(dbt, session):
    dbt.config(materialized="table")
    users = dbt.ref("raw_users")
    return users.filter("id < 3")
"""

PYTHON_YML = """
version: 2
models:
  - name: py_users
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: py_users_to_profiles
              action: identify
              profile_space: default
              fields: {user_id: id, traits: [email]}
"""


@pytest.mark.duckdb_only
@pytest.mark.usefixtures("sandbox")
class TestPythonModel:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"py_users.py": PYTHON_MODEL, "schema.yml": PYTHON_YML}

    def test_a_mapped_python_model_is_captured_like_a_sql_one(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        write_seed(
            project, "raw_users", HEADER, [(1, "a@x.io", "pro", "n"), (2, "b@x.io", "", "")]
        )
        run_dbt(["run"])
        code, document = segment(project, "sync")
        assert code == 0, document
        assert sorted(m["userId"] for m in received(sandbox)) == ["1", "2"]
        write_seed(
            project, "raw_users", HEADER, [(1, "a@x.io", "pro", "n"), (2, "c@x.io", "", "")]
        )
        run_dbt(["run"])
        code, document = segment(project, "sync")
        assert by_mapping(document)["py_users_to_profiles"]["acknowledged_by_operation"] == {
            "added": 0,
            "updated": 1,
            "deleted": 0,
        }


@pytest.mark.usefixtures("sandbox")
class TestBookkeepingModels:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {
            "dim_users.sql": "select * from {{ ref('raw_users') }}",
            "schema.yml": mapping_yml(traits="[email]"),
        }

    def test_runs_issues_and_invalid_keys_are_dbt_models_users_can_test(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        write_seed(project, "raw_users", HEADER, [(1, "a@x.io", "", ""), (None, "b@x.io", "", "")])
        run_dbt(["run"])
        assert segment(project, "sync")[0] == 0
        run_dbt(["run", "--select", "package:segment_profiles"])
        runs = project.run_sql(
            f"select mapping_name, status, sent, acknowledged, invalid_keys "
            f"from {project.test_schema}.segment_sync_runs",
            fetch="all",
        )
        assert [tuple(r) for r in runs] == [("users", "success", 1, 1, 1)]
        invalid = project.run_sql(
            f"select mapping_name, model_name, reason, row_count "
            f"from {project.test_schema}.segment_sync_invalid_keys",
            fetch="all",
        )
        assert [tuple(r) for r in invalid] == [("users", "dim_users", "primary key id is NULL", 1)]
        results = run_dbt(["test", "--select", "package:segment_profiles"])
        statuses = [str(r.status) for r in results if r.node.resource_type == "test"]
        assert len(statuses) == 4 and set(statuses) == {"pass"}


@pytest.mark.usefixtures("sandbox")
class TestPendingCountsFromTheCapture:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": EMPTY_AS_BLANK_SQL, "schema.yml": mapping_yml()}

    def test_pending_counts_come_from_the_capture_record_not_the_state_or_pending_rows(
        self, project: Any
    ) -> None:
        # plan, status and the report count through pending_counts: the counts the capture
        # recorded less the acknowledgements since, never a count over the state or the
        # pending rows, which grow with the model
        run_dbt(["deps"])
        rows = [(1, "a@x.io", "pro", "n"), (2, "b@x.io", "free", "n"), (3, "c@x.io", "", "n")]
        write_seed(project, "raw_users", HEADER, rows)
        run_dbt(["run"])
        ctx = load_context(str(project.project_root), str(project.profiles_dir))
        try:
            warehouse = ctx.warehouse
            (mapping,) = [m for m in ctx.mappings if m.name == "users"]
            assert warehouse.pending_counts(mapping) == {"added": 3, "updated": 0, "deleted": 0}

            with warehouse.transaction() as cur:
                cur.execute(f"delete from {warehouse.mapping_table(mapping, 'pending')}")
                cur.execute(f"delete from {warehouse.mapping_table(mapping, 'state')}")
            assert warehouse.pending_counts(mapping) == {"added": 3, "updated": 0, "deleted": 0}

            with warehouse.transaction() as cur:
                cur.execute(
                    f"insert into {warehouse.mapping_table(mapping, 'acks')} (record_key, "
                    "row_hash, operation, change_version, acked_at) "
                    "values ('1', 'h', 'added', 1, current_timestamp)"
                )
            assert warehouse.pending_counts(mapping) == {"added": 2, "updated": 0, "deleted": 0}
        finally:
            ctx.close()
