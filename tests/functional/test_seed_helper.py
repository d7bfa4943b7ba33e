"""The tests' `write_seed` loads a seed's table in SQL: the same table `dbt seed --full-refresh`
makes from the same CSV (column types, values, empty cells NULL), so the tests built on it test
what a seeded model would give."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from dbt.tests.util import run_dbt

from segment_testing import write_seed

HEADER = "id,email,plan,price,joined,active,note"
ROWS = [
    (1, "a@x.io", "pro", Decimal("12.50"), date(2024, 2, 29), True, ""),
    (2, "it's {braces}", "", Decimal("-0.25"), date(1999, 1, 1), False, ""),
    (3, "Zoë", "free", None, None, None, ""),
]


def table_of(project: Any, name: str) -> tuple[list[tuple[str, str]], list[tuple[Any, ...]]]:
    columns = project.run_sql(
        "select column_name, data_type from information_schema.columns "
        f"where table_schema = '{project.test_schema}' and table_name = '{name}' "
        "order by ordinal_position",
        fetch="all",
    )
    rows = project.run_sql(f"select * from {{schema}}.{name} order by id", fetch="all")
    return [tuple(c) for c in columns], [tuple(r) for r in rows]


class TestWriteSeedLoadsWhatDbtSeedLoads:
    def test_the_same_types_and_values_as_dbt_seed(self, project: Any) -> None:
        run_dbt(["deps"])
        write_seed(project, "raw_users", HEADER, ROWS)
        loaded = table_of(project, "raw_users")
        run_dbt(["seed", "--full-refresh", "--select", "raw_users"])
        seeded = table_of(project, "raw_users")
        assert loaded == seeded
        columns, rows = loaded
        assert len(columns) == 7 and len(rows) == 3
        # empty cells are NULL; quotes, braces and non-ASCII text arrive as they are
        assert rows[1][1] == "it's {braces}" and rows[1][2] is None
        assert rows[2][1] == "Zoë" and rows[2][3:] == (None,) * 4
