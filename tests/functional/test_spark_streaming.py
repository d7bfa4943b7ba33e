"""The runner on Spark streams pending rows in chunks from the connection dbt-spark opens, never
collected whole (dbt-spark's session cursor has no fetchmany), with structs as plain dicts."""

from __future__ import annotations

from typing import Any

import pytest

from dbt_segment_profiles.warehouse.spark import SparkWarehouse, string_literal
from segment_testing import ProjectWithoutThePackage

pytestmark = pytest.mark.spark_only


class TestStreamingFromTheSessionConnection(ProjectWithoutThePackage):
    def test_rows_come_in_chunks_of_at_most_the_asked_size(self, project: Any) -> None:
        project.run_sql(
            "create table {schema}.pending using parquet as "
            "select id, concat('user', id, '@example.com') as email, "
            "named_struct('plan', 'pro', 'tags', array(named_struct('n', id))) as traits "
            "from range(2500)"
        )
        warehouse = SparkWarehouse(project.adapter, project.test_schema)
        try:
            stream = warehouse.stream(
                f"select * from {project.test_schema}.pending order by id", 1000
            )
            sizes, ids, traits = [], [], []
            for chunk in stream:
                sizes.append(len(chunk))
                ids.extend(row[0] for row in chunk)
                traits.append(chunk[0][2])
        finally:
            warehouse.close()
        assert stream.columns == ["id", "email", "traits"]
        assert sizes == [1000, 1000, 500]
        assert ids == list(range(2500))
        assert traits[0] == {"plan": "pro", "tags": [{"n": 0}]}
        assert type(traits[0]) is dict

    def test_quotes_and_backslashes_round_trip_as_literals(self, project: Any) -> None:
        warehouse = SparkWarehouse(project.adapter, project.test_schema)
        text = "it's a \\ back\\slash \\' and \\n, ? and %s\nnewline"
        try:
            assert warehouse.query("select " + string_literal(text))[0][0] == text
            assert warehouse.query("select ?, ?", (text, None))[0] == (text, None)
        finally:
            warehouse.close()
