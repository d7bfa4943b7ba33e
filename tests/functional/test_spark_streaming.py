"""A prototype for the runner on Spark: pending rows streamed in chunks from the connection
dbt-spark opens, never collected whole (dbt-spark's session cursor has no fetchmany)."""

from __future__ import annotations

from typing import Any

import pytest

from segment_testing import REPO_ROOT

pytestmark = pytest.mark.spark_only


def _stream_query() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "tests.spark_session", REPO_ROOT / "tests" / "spark_session.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.stream_query


class TestStreamingFromTheSessionConnection:
    @pytest.fixture(scope="class")
    @classmethod
    def packages(cls) -> dict[str, Any]:
        return {}

    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict[str, Any]:
        return {}

    def test_rows_come_in_chunks_of_at_most_the_asked_size(self, project: Any) -> None:
        project.run_sql(
            "create table {schema}.pending using parquet as "
            "select id, concat('user', id, '@example.com') as email from range(2500)"
        )
        adapter = project.adapter
        with adapter.connection_named("stream"):
            handle = adapter.connections.get_thread_connection().handle
            columns, chunks = _stream_query()(
                handle, f"select * from {project.test_schema}.pending order by id", 1000
            )
            sizes, ids = [], []
            for chunk in chunks:
                sizes.append(len(chunk))
                ids.extend(row[0] for row in chunk)
        assert columns == ["id", "email"]
        assert sizes == [1000, 1000, 500]
        assert ids == list(range(2500))
