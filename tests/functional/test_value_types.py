"""Warehouse types become the same JSON on DuckDB and Postgres; bad values are rejected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dbt.tests.util import run_dbt

from segment_testing import by_mapping, received, segment

TYPED_SQL = """
{% if target.type == 'duckdb' %}
select
    1 as id,
    date '2024-02-29' as signup_date,
    timestamp '2024-03-01 12:34:56.789' as seen_at,
    timestamptz '2024-03-01 12:34:56.789+02' as seen_at_tz,
    cast(12.50 as decimal(10, 2)) as amount,
    cast(1234567.125 as decimal(18, 3)) as balance,
    true as active,
    cast(0.1 as double) as ratio,
    {'plan': 'pro', 'seats': 3} as settings,
    ['a', 'b'] as tags,
    cast('{"x": [1, 2], "y": null}' as json) as extra,
    'Zoë 😀 東京' as name
union all
select 2, null, null, null, null, null, false, cast('NaN' as double), null, null, null, 'nan'
{% else %}
select
    1 as id,
    date '2024-02-29' as signup_date,
    timestamp '2024-03-01 12:34:56.789' as seen_at,
    timestamptz '2024-03-01 12:34:56.789+02' as seen_at_tz,
    cast(12.50 as numeric(10, 2)) as amount,
    cast(1234567.125 as numeric(18, 3)) as balance,
    true as active,
    cast(0.1 as double precision) as ratio,
    jsonb_build_object('plan', 'pro', 'seats', 3) as settings,
    array['a', 'b'] as tags,
    cast('{"x": [1, 2], "y": null}' as json) as extra,
    'Zoë 😀 東京' as name
union all
select 2, null, null, null, null, null, false, cast('NaN' as double precision), null, null, null,
    'nan'
{% endif %}
"""

TYPED_YML = """
version: 2
models:
  - name: typed
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: typed_users
              action: identify
              profile_space: default
              fields:
                user_id: id
                timestamp: seen_at_tz
                traits: [signup_date, seen_at, seen_at_tz, amount, balance, active, ratio,
                         settings, tags, extra, name]
"""

EXPECTED_TRAITS = {
    "signup_date": "2024-02-29T00:00:00.000Z",
    "seen_at": "2024-03-01T12:34:56.789Z",
    "seen_at_tz": "2024-03-01T10:34:56.789Z",
    "amount": 12.5,
    "balance": 1234567.125,
    "active": True,
    "ratio": 0.1,
    "settings": {"plan": "pro", "seats": 3},
    "tags": ["a", "b"],
    "extra": {"x": [1, 2], "y": None},
    "name": "Zoë 😀 東京",
}


@pytest.mark.usefixtures("sandbox")
class TestValueTypes:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"typed.sql": TYPED_SQL, "schema.yml": TYPED_YML}

    def test_types_become_the_same_json_everywhere_and_nan_is_rejected(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        run_dbt(["run"])
        code, document = segment(project, "sync")
        assert code == 1, document
        result = by_mapping(document)["typed_users"]
        assert (result["acknowledged"], result["rejected"]) == (1, 1)
        assert "ratio" in result["reasons"][0] and "NaN" in result["reasons"][0]
        (message,) = received(sandbox)
        assert message["timestamp"] == "2024-03-01T10:34:56.789Z"
        assert message["traits"] == EXPECTED_TRAITS

        issue = project.run_sql(
            f"select record_key, operation, kind, reason, attempts "
            f"from {project.test_schema}_segment.segment_record_issues",
            fetch="all",
        )
        assert [tuple(r)[:3] for r in issue] == [("2", "added", "rejected")]
        # the rejected row stays pending and is retried (and rejected again) next time
        code, document = segment(project, "sync")
        assert code == 1
        assert by_mapping(document)["typed_users"]["rejected"] == 1
        attempts = project.run_sql(
            f"select attempts from {project.test_schema}_segment.segment_record_issues",
            fetch="one",
        )
        assert attempts[0] == 2


EXACT_SQL = """
{% if target.type == 'duckdb' %}
select
    1 as id,
    cast('12345678.123456789012' as decimal(20, 12)) as amount,
    cast('170141183460469231731687303715884105727' as hugeint) as big,
    cast(12.50 as decimal(10, 2)) as price,
    'acc1' as account_id
{% else %}
select
    1 as id,
    cast('12345678.123456789012' as numeric(38, 12)) as amount,
    cast('170141183460469231731687303715884105727' as numeric) as big,
    cast(12.50 as numeric(10, 2)) as price,
    'acc1' as account_id
{% endif %}
"""

# identify is written by DuckDB's SQL lane; track with a group_id by the Python builder
EXACT_YML = """
version: 2
models:
  - name: exact
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: exact_traits
              action: identify
              profile_space: default
              fields:
                user_id: id
                traits: [amount, big, price]
            - name: exact_properties
              action: track
              profile_space: default
              fields:
                user_id: id
                event_name: {value: Invoice Paid}
                group_id: account_id
                properties: [amount, big, price]
"""


@pytest.mark.usefixtures("sandbox")
class TestExactNumbers:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"exact.sql": EXACT_SQL, "schema.yml": EXACT_YML}

    def test_decimals_and_wide_integers_arrive_with_every_digit(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        run_dbt(["run"])
        code, document = segment(project, "sync")
        assert code == 0, document
        # the raw lines Segment would receive: a float round trip would give 12345678.12345679
        # and 1.7014118346046923e+38
        lines = Path(sandbox.output).read_bytes().splitlines()
        assert len(lines) == 2
        for line in lines:
            body = b'"traits":' if b'"type":"identify"' in line else b'"properties":'
            assert (
                body + b'{"amount":12345678.123456789012,'
                b'"big":170141183460469231731687303715884105727,"price":12.50}'
            ) in line, line
