"""Issue 9: the state under real operating conditions. Each test is named after its item."""

from __future__ import annotations

from typing import Any

import pytest
from dbt.tests.util import run_dbt

from dbt_segment_profiles.sandbox.faults import Faults
from segment_testing import (
    acknowledged_keys,
    by_mapping,
    received,
    segment,
    segment_project_config,
    write_seed,
)

HEADER = "id,email,plan"
USERS_SQL = "select * from {{ ref('raw_users') }} where id <= {{ var('max_id', 1000000000) }}"


def schema_yml(guard: str = "max_deleted_percent: null") -> str:
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
              send: [added, updated, deleted]
              {guard}
              fields:
                user_id: id
                traits: [email, plan]
            - name: signups
              action: track
              profile_space: default
              send: [added]
              {guard}
              fields:
                user_id: id
                event_name: {{value: Signed Up}}
                properties: [plan]
"""


def users(n: int, plan: str = "free") -> list[tuple[Any, ...]]:
    return [(i, f"u{i}@example.com", plan) for i in range(1, n + 1)]


def identify_of(messages: list[dict[str, Any]], user: str) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] == "identify" and m["userId"] == user]


def track_of(messages: list[dict[str, Any]], user: str) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] == "track" and m["userId"] == user]


def day(project: Any, rows: list[tuple[Any, ...]], *args: str) -> tuple[int, Any]:
    """New model rows, `dbt run` (its capture), then `dbt-segment sync`."""
    write_seed(project, "raw_users", HEADER, rows)
    run_dbt(["run"])
    return segment(project, "sync", *args)


@pytest.mark.usefixtures("sandbox")
class TestChangeVersions:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": USERS_SQL, "schema.yml": schema_yml()}

    def test_item_3_a_value_changing_back_gets_a_new_message_id(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        base = users(2)
        for plan in ("pro", "free", "pro", "free"):
            code, document = day(project, [(1, "u1@example.com", plan), base[1]])
            assert code == 0, document
        sent = identify_of(received(sandbox), "1")
        assert [m["traits"]["plan"] for m in sent] == ["pro", "free", "pro", "free"]
        # A -> B -> A -> B: Segment de-duplicates by messageId, so each must be new
        assert len({m["messageId"] for m in sent}) == 4

        assert day(project, base[:1])[0] == 0  # user 2 deleted
        assert day(project, base)[0] == 0  # and restored
        second = identify_of(received(sandbox), "2")
        assert [m["traits"]["email"] for m in second] == [
            "u2@example.com",
            None,
            "u2@example.com",
        ]
        assert len({m["messageId"] for m in second}) == 3
        signed_up = track_of(received(sandbox), "2")
        assert len(signed_up) == 2 and signed_up[0]["messageId"] != signed_up[1]["messageId"]

        # nothing new: nothing sent, whatever the history
        before = len(received(sandbox))
        code, document = day(project, base)
        assert code == 0 and len(received(sandbox)) == before


class TestInDoubt:
    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict[str, Any]:
        return segment_project_config(
            max_attempts=2, backoff_seconds=0.01, max_backoff_seconds=0.02
        )

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": USERS_SQL, "schema.yml": schema_yml()}

    def test_item_4_a_send_without_answer_is_resent_even_after_the_row_reverts(
        self, project: Any, serve: Any
    ) -> None:
        run_dbt(["deps"])
        serve()
        assert day(project, users(3, "pro"))[0] == 0

        # day 2: every batch reaches "Segment", and every answer is lost
        lossy = serve(Faults(lose_answer=1.0))
        code, document = day(
            project,
            [(1, "u1@example.com", "enterprise"), (2, "u2@example.com", "enterprise")]
            + [(3, "u3@example.com", "pro"), (4, "u4@example.com", "pro")],
        )
        assert code == 1, document
        assert by_mapping(document)["users"]["acknowledged"] == 0
        lost = {m["userId"]: m for m in received(lossy) if m["type"] == "identify"}
        assert set(lost) == {"1", "2", "4"}

        # day 3: user 1 is back to what Segment acknowledged, user 2 keeps its change, user 4
        # is gone again: Segment may hold all three of the lost values
        good = serve()
        settled = [(1, "u1@example.com", "pro"), (2, "u2@example.com", "enterprise")]
        settled.append((3, "u3@example.com", "pro"))
        code, document = day(project, settled)
        assert code == 0, document
        now = {m["userId"]: m for m in received(good) if m["type"] == "identify"}
        assert set(now) == {"1", "2", "4"}
        assert now["1"]["traits"]["plan"] == "pro"
        assert now["1"]["messageId"] != lost["1"]["messageId"]
        # the same change sent again keeps its messageId: Segment drops it if it had arrived
        assert now["2"]["traits"]["plan"] == "enterprise"
        assert now["2"]["messageId"] == lost["2"]["messageId"]
        assert now["4"]["traits"] == {"email": None, "plan": None}  # the delete
        assert sorted(acknowledged_keys(project, "users")) == ["1", "2", "3"]

        # settled: nothing is in doubt any more
        code, document = day(project, settled)
        assert code == 0 and by_mapping(document)["users"]["sent"] == 0


@pytest.mark.usefixtures("sandbox")
class TestMassDeleteGuard:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {
            "dim_users.sql": USERS_SQL,
            "schema.yml": schema_yml(guard="") + OTHER_YML,
            "dim_plans.sql": "select * from {{ ref('raw_plans') }}",
        }

    def test_item_6_an_emptied_model_is_held_by_the_mass_delete_guard(
        self, project: Any, sandbox: Any
    ) -> None:
        from dbt.tests.util import write_file

        run_dbt(["deps"])
        write_file("id,name\n1,free\n2,pro\n", project.project_root, "seeds", "raw_plans.csv")
        write_seed(project, "raw_users", HEADER, users(50))
        run_dbt(["seed"])
        run_dbt(["run"])
        code, document = segment(project, "sync")
        assert code == 0 and len(received(sandbox)) == 102

        # an accident upstream: the model builds empty
        write_seed(project, "raw_plans", "id,name", [(1, "free"), (2, "pro+")])
        run_dbt(["run", "--vars", "{max_id: 0}"])
        code, document = segment(project, "sync")
        assert code == 2, document
        results = by_mapping(document)
        for name in ("users", "signups"):
            assert results[name]["status"] == "blocked"
            assert "50 of 50 keys" in results[name]["error"]
            assert "--allow-mass-delete" in results[name]["error"]
        assert results["plans"]["acknowledged"] == 1  # the other mapping still syncs
        assert len(received(sandbox)) == 103
        code, plan = segment(project, "plan")
        assert (
            code == 2
            and "max_deleted_percent"
            in {p["mapping"]: p for p in plan["plans"]}["users"]["blocked"]
        )
        assert len(acknowledged_keys(project, "signups")) == 50  # the state was kept

        # the rows come back: no second "Signed Up", nothing blocked
        run_dbt(["run"])
        code, document = segment(project, "sync")
        assert code == 0, document
        assert len(received(sandbox)) == 103

        # a real mass delete, confirmed by the user
        run_dbt(["run", "--vars", "{max_id: 10}"])
        assert segment(project, "sync")[0] == 2
        code, document = segment(project, "sync", "--allow-mass-delete")
        assert code == 0, document
        results = by_mapping(document)
        assert results["users"]["acknowledged_by_operation"]["deleted"] == 40
        assert results["signups"]["sent"] == 0
        run_dbt(["run", "--vars", "{max_id: 10}"])
        code, document = segment(project, "sync")
        assert code == 0, document
        assert sum(m["sent"] for m in document["results"]) == 0
        assert len(acknowledged_keys(project, "signups")) == 10


OTHER_YML = """
  - name: dim_plans
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: plans
              action: group
              profile_space: default
              fields: {group_id: id, user_id: {value: system}, traits: [name]}
"""


@pytest.mark.usefixtures("sandbox")
class TestChangedMapping:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": USERS_SQL, "schema.yml": schema_yml()}

    def test_item_9_a_changed_mapping_blocks_only_itself(self, project: Any, sandbox: Any) -> None:
        from dbt.tests.util import write_file

        run_dbt(["deps"])
        assert day(project, users(4))[0] == 0
        changed = schema_yml().replace("traits: [email, plan]", "traits: [email]")
        write_file(changed, project.project_root, "models", "schema.yml")
        code, document = day(project, users(4) + [(5, "u5@example.com", "pro")])
        assert code == 2, document
        results = by_mapping(document)
        assert results["users"]["status"] == "blocked" and results["users"]["sent"] == 0
        assert "reset users" in results["users"]["error"]
        assert results["signups"]["acknowledged"] == 1  # the unchanged mapping still sends

        code, plan = segment(project, "plan")
        assert code == 2
        plans = {p["mapping"]: p for p in plan["plans"]}
        assert plans["users"]["blocked"] and plans["signups"]["blocked"] is None

        # the way out says what it swallows, and asks first
        code, document = segment(project, "reset", "users", "--rebaseline")
        # the changed fields make every row an update, and user 5 is new
        assert code == 2 and "would mark 5 pending change(s)" in document["error"]
        code, document = segment(project, "reset", "users", "--rebaseline", "--yes")
        assert code == 0, document
        assert document["marked_sent_without_sending"] == {"added": 1, "updated": 4, "deleted": 0}
        code, document = segment(project, "sync")
        assert code == 0 and by_mapping(document)["users"]["sent"] == 0


KEYED_SQL = """
select {% if var('text_keys', false) %}'k' || cast(id as varchar(20)){% else %}id{% endif %} as id,
  email, plan
from {{ ref('raw_users') }}
"""


@pytest.mark.usefixtures("sandbox")
class TestKeyTypeChange:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": KEYED_SQL, "schema.yml": schema_yml()}

    def test_item_10_a_primary_key_type_change_names_the_types_and_the_fix(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        assert day(project, users(3))[0] == 0
        # the model builds (it is right); its mappings are held until the user decides
        run_dbt(["run", "--vars", "{text_keys: true}"])

        code, document = segment(project, "validate", "--vars", "{text_keys: true}")
        assert code == 2, document
        problem = next(p for p in document["problems"] if p["mapping"] == "users")
        assert "primary key column id changed type from integer to" in problem["message"]
        assert "reset users" in problem["message"]
        code, document = segment(project, "sync", "--vars", "{text_keys: true}")
        assert code == 2 and by_mapping(document)["users"]["status"] == "blocked"

        code, document = segment(project, "reset", "users", "--vars", "{text_keys: true}")
        assert code == 0, document
        assert document["pending"]["added"] == 3
        # signups reads the same model: held too, until it is reset as well
        assert segment(project, "reset", "signups", "--vars", "{text_keys: true}")[0] == 0
        code, document = segment(project, "sync", "--vars", "{text_keys: true}")
        assert code == 0, [m["error"] for m in document["results"]]
        assert {"k1", "k2", "k3"} <= {m["userId"] for m in received(sandbox)}
        run_dbt(["run", "--vars", "{text_keys: true}"])
        code, document = segment(project, "sync", "--vars", "{text_keys: true}")
        assert code == 0 and sum(m["sent"] for m in document["results"]) == 0


EMPTY_KEY_SQL = """
select case when id = 2 then '' else cast(id as varchar(20)) end as id, email, plan
from {{ ref('raw_users') }}
"""


@pytest.mark.usefixtures("sandbox")
class TestEmptyKey:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": EMPTY_KEY_SQL, "schema.yml": schema_yml()}

    def test_item_12_an_empty_string_key_is_an_invalid_key(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        code, document = day(project, users(3))
        assert code == 0, [m["error"] for m in document["results"]]
        results = by_mapping(document)
        assert results["users"]["acknowledged"] == 2 and results["users"]["invalid_keys"] == 1
        assert "" not in {m["userId"] for m in received(sandbox)}
        code, document = segment(project, "sync")
        assert code == 0 and sum(m["sent"] for m in document["results"]) == 0


@pytest.mark.usefixtures("sandbox")
class TestRenamedAndRemovedMappings:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": USERS_SQL, "schema.yml": schema_yml()}

    def test_item_7_a_renamed_mapping_keeps_its_state_and_a_removed_one_is_pruned(
        self, project: Any, sandbox: Any
    ) -> None:
        from dbt.tests.util import write_file

        run_dbt(["deps"])
        assert day(project, users(20))[0] == 0
        assert len(received(sandbox)) == 40

        # signups renamed to user_signups, same definition
        renamed = schema_yml().replace("name: signups", "name: user_signups")
        write_file(renamed, project.project_root, "models", "schema.yml")
        run_dbt(["run"])
        code, document = segment(project, "validate")
        assert code == 2, document
        problem = next(p for p in document["problems"] if p["mapping"] == "user_signups")
        assert "dbt-segment rename signups user_signups" in problem["message"]
        code, document = segment(project, "sync")
        assert code == 2 and by_mapping(document)["user_signups"]["sent"] == 0
        assert by_mapping(document)["users"]["status"] == "success"
        code, status = segment(project, "status")
        assert status["orphans"] == ["signups"]

        code, document = segment(project, "rename", "signups", "user_signups")
        assert code == 0, document
        code, document = day(project, users(21))
        assert code == 0, document
        # one new "Signed Up", not 21 duplicates under new messageIds
        assert by_mapping(document)["user_signups"]["acknowledged"] == 1
        assert len(acknowledged_keys(project, "user_signups")) == 21
        assert segment(project, "status")[1]["orphans"] == []

        # users removed from the project: its bookkeeping is listed, then dropped on --yes
        only_signups = (
            renamed.split("            - name: users")[0]
            + renamed.split("traits: [email, plan]\n")[1]
        )
        write_file(only_signups, project.project_root, "models", "schema.yml")
        run_dbt(["run"])
        code, document = segment(project, "prune")
        assert code == 0 and [o["name"] for o in document["orphans"]] == ["users"]
        assert document["dropped"] is False
        assert len(acknowledged_keys(project, "users")) == 21  # still there
        code, document = segment(project, "prune", "--yes")
        assert code == 0 and document["dropped"] is True
        assert segment(project, "prune")[1]["orphans"] == []
        tables = project.run_sql(
            "select table_name from information_schema.tables where table_schema = "
            f"'{project.test_schema}_segment' and table_name like 'users\\_\\_%' escape '\\'",
            fetch="all",
        )
        assert tables == []
        code, document = segment(project, "sync")
        assert code == 0 and [m["mapping"] for m in document["results"]] == ["user_signups"]
