"""`dbt-segment validate` and `sync` refuse a bad config as a whole, before sending anything."""

from __future__ import annotations

from typing import Any

import pytest
from dbt.tests.util import run_dbt, write_file

from segment_testing import received, segment

MODEL_SQL = "select 1 as id, 'ada@example.com' as email"

GOOD_YML = """
version: 2
models:
  - name: dim_users
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: users_to_profiles
              action: identify
              profile_space: default
              fields: {user_id: id, traits: [email]}
"""

BAD_YML = """
version: 2
models:
  - name: dim_users
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: users_to_profiles
              action: identify
              profile_space: default
              fields: {user_id: id, traits: [email, plan]}
            - name: users_to_eu
              action: identify
              profile_space: europe
              fields: {user_id: id}
            - name: orders_placed
              action: track
              profile_space: default
              fields: {user_id: id, colour: email}
"""


@pytest.mark.usefixtures("sandbox")
class TestValidate:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": MODEL_SQL, "schema.yml": GOOD_YML}

    def test_every_problem_is_listed_and_nothing_is_sent(
        self, project: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        run_dbt(["deps"])
        run_dbt(["run"])
        code, document = segment(project, "validate")
        assert code == 0, document
        assert document["valid"] is True and document["exit_code"] == 0
        assert document["mappings"] == ["users_to_profiles"]
        assert document["destinations"]["users_to_profiles"].startswith("http://127.0.0.1:")

        # a config changed after the last run: the runner parses the project again itself
        write_file(BAD_YML, project.project_root, "models", "schema.yml")
        code, document = segment(project, "validate")
        assert code == 2
        problems = {(p["mapping"], p["key"], p["message"]) for p in document["problems"]}
        assert problems == {
            (
                "orders_placed",
                "fields.colour",
                "is not a field of track; expected one of "
                "user_id, anonymous_id, timestamp, message_id, consent, event_name, group_id, "
                "properties",
            ),
            ("orders_placed", "fields.event_name", "is required for track"),
            (
                "users_to_eu",
                "profile_space",
                "unknown profile space 'europe'; defined in "
                "vars.segment_profiles.profile_spaces: default",
            ),
            ("users_to_profiles", "fields", "column 'plan' is not in model dim_users"),
        }

        code, document = segment(project, "sync")
        assert code == 2
        assert received(sandbox) == []

    def test_unset_write_key_fails_before_sending(
        self, project: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        write_file(GOOD_YML, project.project_root, "models", "schema.yml")
        run_dbt(["run"])
        monkeypatch.delenv("SEGMENT_TEST_WRITE_KEY")
        code, document = segment(project, "sync")
        assert code == 2
        assert [p["message"] for p in document["problems"]] == [
            "environment variable SEGMENT_TEST_WRITE_KEY (write key of profile space 'default') "
            "is not set"
        ]
        assert received(sandbox) == []
