"""Issue 9, items 5 and 8: a state belongs to one relation, and its hashes to no session."""

from __future__ import annotations

from typing import Any

import pytest
from dbt.tests.util import run_dbt

from segment_testing import (
    USERS_YML,
    by_mapping,
    generated_users_sql,
    segment,
    segment_project_config,
    users_model_sql,
)

ROWS = 40


def two_targets(target: dict[str, Any], schema: str) -> dict[str, Any]:
    prod = {**target, "schema": f"{schema}_prod"}
    return {"test": {"outputs": {"default": target, "prod": prod}, "target": "default"}}


class TestSharedSchemaIsRefused:
    @pytest.fixture(scope="class")
    @classmethod
    def profiles_config_update(cls, dbt_profile_target: Any, unique_schema: str) -> Any:
        return two_targets({**dbt_profile_target, "schema": unique_schema}, unique_schema)

    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls, unique_schema: str) -> dict[str, Any]:
        # the shape the README used to show: one fixed schema for every target
        return segment_project_config({"schema": f"{unique_schema}_shared"})

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": users_model_sql(ROWS), "schema.yml": USERS_YML}

    def test_item_5_a_second_target_on_a_shared_schema_is_refused(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        run_dbt(["run"])
        code, document = segment(project, "sync")
        assert code == 0 and by_mapping(document)["users"]["acknowledged"] == ROWS

        # prod captures into the dev target's state: refused, the model fails, nothing shared
        results = run_dbt(["run", "--target", "prod", "--vars", "{version: 2}"], expect_pass=False)
        (failed,) = [r for r in results if str(r.status) == "error"]
        assert "was captured from" in failed.message and "target.name" in failed.message
        code, document = segment(project, "sync", "--target", "prod")
        assert code == 2, document
        assert len(sandbox_messages(sandbox)) == ROWS
        # a model whose build survived its failed capture (a table, or a warehouse without
        # transactional DDL) is refused by the runner too, naming the fix
        project.run_sql(
            f"create table {project.test_schema}_prod.dim_users as "
            f"select * from {project.test_schema}.dim_users"
        )
        code, document = segment(project, "sync", "--target", "prod")
        assert code == 2, document
        blocked = by_mapping(document)["users"]
        assert blocked["status"] == "blocked" and blocked["sent"] == 0
        assert "share the bookkeeping schema" in blocked["error"]
        assert len(sandbox_messages(sandbox)) == ROWS

        # the dev target's state is untouched
        code, document = segment(project, "sync")
        assert code == 0 and by_mapping(document)["users"]["sent"] == 0


class TestTargetNameInTheSchema:
    @pytest.fixture(scope="class")
    @classmethod
    def profiles_config_update(cls, dbt_profile_target: Any, unique_schema: str) -> Any:
        return two_targets({**dbt_profile_target, "schema": unique_schema}, unique_schema)

    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls, unique_schema: str) -> dict[str, Any]:
        return segment_project_config({"schema": unique_schema + "_sp_{{ target.name }}"})

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": users_model_sql(ROWS), "schema.yml": USERS_YML}

    def test_item_5_target_name_in_the_schema_var_gives_each_target_its_state(
        self, project: Any, sandbox: Any, unique_schema: str
    ) -> None:
        run_dbt(["deps"])
        for target in ("default", "prod"):
            run_dbt(["run", "--target", target])
            code, document = segment(project, "sync", "--target", target)
            assert code == 0, document
            assert by_mapping(document)["users"]["acknowledged"] == ROWS
        for target in ("default", "prod"):
            rows = project.run_sql(
                f"select count(*) from {unique_schema}_sp_{target}.users__acks", fetch="one"
            )
            assert rows[0] == ROWS
        assert len(sandbox_messages(sandbox)) == 2 * ROWS


def sandbox_messages(sandbox: Any) -> list[Any]:
    from segment_testing import received

    return received(sandbox)


EVENTS_SQL = (
    "{{ config(pre_hook=\"set TimeZone = '\" ~ var('tz', 'UTC') ~ \"'\") }}\n"
    f"with ids as ({generated_users_sql(ROWS)})\n"
    "select id, cast('2024-03-01 12:00:00+00' as timestamp with time zone) as seen_at from ids"
)

EVENTS_YML = """
version: 2
models:
  - name: dim_events
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: events
              action: identify
              profile_space: default
              fields: {user_id: id, traits: [seen_at]}
"""

# the hashes a state captured before hash version 2 holds: the session's text of each value
LEGACY_MACRO = """
{% macro make_state_legacy(tz) %}
  {% call statement('begin_legacy', auto_begin=True) %}select 1{% endcall %}
  {% do run_query("set TimeZone = '" ~ tz ~ "'") %}
  {% set state = segment_profiles.bookkeeping_relation('events', 'state') %}
  {% set relation = api.Relation.create(database=target.database, schema=target.schema,
      identifier='dim_events') %}
  {% do run_query('update ' ~ state ~ ' set row_hash = m.h from (select cast(id as '
      ~ dbt.type_string() ~ ') as k, ' ~ segment_profiles.row_hash(['id', 'seen_at'])
      ~ ' as h from ' ~ relation ~ ') as m where ' ~ adapter.quote(state.identifier)
      ~ '.record_key = m.k') %}
  {% do run_query('update ' ~ segment_profiles.bookkeeping_relation_named('segment_captures')
      ~ " set hash_version = 1 where mapping_name = 'events'") %}
  {% do adapter.commit() %}
{% endmacro %}
"""


class TestSessionTimeZone:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_events.sql": EVENTS_SQL, "schema.yml": EVENTS_YML}

    @pytest.fixture(scope="class")
    @classmethod
    def macros(cls) -> dict[str, str]:
        return {"make_state_legacy.sql": LEGACY_MACRO}

    def test_item_8_another_session_time_zone_resends_nothing(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        run_dbt(["run"])
        code, document = segment(project, "sync")
        assert code == 0 and by_mapping(document)["events"]["acknowledged"] == ROWS

        run_dbt(["run", "--vars", "{tz: America/New_York}"])
        code, document = segment(project, "sync")
        assert code == 0, document
        assert by_mapping(document)["events"]["sent"] == 0

        # an existing user's state, hashed the old way in their session, is re-hashed once
        run_dbt(["run", "--vars", "{tz: Asia/Tokyo}"])
        assert segment(project, "sync")[0] == 0
        run_dbt(["run-operation", "make_state_legacy", "--args", "{tz: Asia/Tokyo}"])
        run_dbt(["run", "--vars", "{tz: Asia/Tokyo}"])
        code, document = segment(project, "sync")
        assert code == 0, document
        assert by_mapping(document)["events"]["sent"] == 0
        run_dbt(["run", "--vars", "{tz: UTC}"])
        code, document = segment(project, "sync")
        assert code == 0 and by_mapping(document)["events"]["sent"] == 0
