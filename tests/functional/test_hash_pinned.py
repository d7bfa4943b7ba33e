"""The row hash is pinned: the portable macros hash every row of a DuckDB or Postgres model to the
very bytes the states captured before them hold, so an upgrade resends nothing."""

from __future__ import annotations

from typing import Any

import pytest
from dbt.tests.util import run_dbt

MODEL = """
select 1 as id, 'a|b' as name, cast(null as varchar) as plan, '' as note,
  cast('2024-03-01 12:34:56.789+00' as timestamptz) as seen_at,
  cast('2024-03-01' as date) as day, cast(12.5 as decimal(10, 2)) as amount,
  cast('2024-03-01 12:34:56' as timestamp) as local_at
union all
select 2, 'a', 'b|c', 'x', null, null, null, null
"""

YML = """
version: 2
models:
  - name: dim_pinned
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: pinned
              action: identify
              profile_space: default
              fields:
                user_id: id
                traits: [name, plan, note, seen_at, day, amount, local_at]
"""

# md5 of each row's text (columns sorted; 'n' for NULL, 'v<length>:<text>' for a value; '|'
# between), as the macros before the portable ones computed it (hash version 2): row 2,
# 'n|n|v1:2|n|v1:a|v1:x|v3:b|c|n' on both; row 1 on DuckDB 'v5:12.50|v10:2024-03-01|v1:1|
# v19:2024-03-01 12:34:56|v3:a|b|v0:|n|v23:2024-03-01 12:34:56.789', on Postgres the
# timestamps as to_char writes them ('2024-03-01T12:34:56.000000', '...T12:34:56.789000')
PINNED = {
    "duckdb": {"1": "536d3629edb84315ef1acf06e1841ccc", "2": "19c0944fc98425616a0faf7ac442a063"},
    "postgres": {"1": "0d91e3f2c88700b452aeb6cb2d65eb41", "2": "19c0944fc98425616a0faf7ac442a063"},
}


class TestRowHashIsPinned:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_pinned.sql": MODEL, "schema.yml": YML}

    def test_row_hashes_are_the_bytes_earlier_versions_stored(
        self, project: Any, profile_type: str
    ) -> None:
        run_dbt(["deps"])
        run_dbt(["run"])
        rows = project.run_sql(
            f"select __sp_key, __sp_hash from {project.test_schema}_segment.pinned__pending",
            fetch="all",
        )
        assert dict(rows) == PINNED[profile_type]
