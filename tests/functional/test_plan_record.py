"""Issue 12 item 5: Segment's Test Mapping for one record, `plan MAPPING --key K`."""

from __future__ import annotations

from typing import Any

import pytest
from dbt.tests.util import run_dbt

from segment_testing import received, segment, write_seed

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
              send: [added, updated, deleted]
              max_deleted_percent: null
              fields: {user_id: id, traits: {email: email, plan: plan}, timestamp: seen_at}
            - name: signups
              action: track
              profile_space: default
              fields: {user_id: id, event_name: event, properties: [plan]}
"""

MODEL = """
select id, email, plan, nullif(plan, 'free') as event,
  cast('2024-05-06 07:08:09' as timestamp) as seen_at
from {{ ref('raw_users') }}
"""


@pytest.mark.usefixtures("sandbox")
class TestPlanOneRecord:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": MODEL, "schema.yml": YML}

    def test_item_5_plan_shows_one_records_exact_message_pending_or_not(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        rows = [(1, "a@x.io", "pro"), (2, "b@x.io", "free"), (3, "c@x.io", "pro")]
        write_seed(project, "raw_users", "id,email,plan", rows)
        run_dbt(["run"])

        code, document = segment(project, "plan", "users", "--key", "1")
        assert code == 0, document
        (only,) = document["plans"]
        record = only["record"]
        assert record["pending"] is True and record["operation"] == "added"
        assert record["message"]["traits"] == {"email": "a@x.io", "plan": "pro"}
        assert record["message"]["timestamp"] == "2024-05-06T07:08:09.000Z"
        assert received(sandbox) == []  # nothing sent

        # the same message sync then sends, messageId included
        assert segment(project, "sync")[0] in (0, 1)
        sent = next(m for m in received(sandbox) if m["type"] == "identify" and m["userId"] == "1")
        assert sent == record["message"]

        # not pending any more: still shown, as its next change would be sent
        code, document = segment(project, "plan", "users", "--key", "1")
        record = document["plans"][0]["record"]
        assert record["pending"] is False and record["operation"] == "updated"
        assert record["message"]["traits"]["plan"] == "pro"

        # a row the mapping rejects shows the reason
        code, document = segment(project, "plan", "signups", "--key", "2")
        assert "event_name" in document["plans"][0]["record"]["rejected"]

        # a key the model does not have; --key without a mapping is a usage error
        code, document = segment(project, "plan", "users", "--key", "404")
        assert document["plans"][0]["record"] == {"key": "404", "found": False}
        assert segment(project, "plan", "--key", "1")[0] == 2
        code, document = segment(project, "plan", "--limit", "1")
        assert all(len(p["samples"]) <= 1 for p in document["plans"])
