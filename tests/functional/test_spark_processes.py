"""Spark in two processes at once: the test process holds a SparkSession for the whole run, and a
child process (as `dbt-segment sync` is in the kill -9 tests) opens its own on the same tables."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest
from dbt.tests.util import run_dbt

from segment_testing import REPO_ROOT, ProjectWithoutThePackage

pytestmark = pytest.mark.spark_only

NUMBERS_CSV = "n\n1\n2\n3\n"
DOUBLED_SQL = "select n, n * 2 as doubled from {{ ref('numbers') }}"

# what a child process does with nothing but the project's profiles.yml: open Spark with the
# target's settings, read the parent's tables, change one, make another
CHILD = textwrap.dedent(
    """
    import importlib.util, sys, yaml
    profiles_dir, schema, tests_dir = sys.argv[1:]
    spec = importlib.util.spec_from_file_location("spark_session", tests_dir + "/spark_session.py")
    helper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helper)
    profile = yaml.safe_load(open(profiles_dir + "/profiles.yml"))["test"]["outputs"]["default"]
    spark = helper.start_spark(profile["server_side_parameters"])
    print("child read", spark.sql(f"select sum(doubled) from {schema}.doubled").first()[0])
    spark.sql(f"insert into {schema}.numbers values (4)")
    spark.sql(f"create table {schema}.from_child as select 'hello' as greeting")
    spark.stop()
    """
)


class TestChildProcessSharesTheWarehouse(ProjectWithoutThePackage):
    @pytest.fixture(scope="class")
    @classmethod
    def seeds(cls) -> dict[str, str]:
        return {"numbers.csv": NUMBERS_CSV}

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"doubled.sql": DOUBLED_SQL}

    def test_a_child_reads_and_writes_what_the_parent_built_while_the_parent_holds_spark(
        self, project: Any
    ) -> None:
        run_dbt(["seed"])
        run_dbt(["run"])
        assert project.run_sql("select sum(doubled) from {schema}.doubled", fetch="one")[0] == 12

        child = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(project.profiles_dir),
                project.test_schema,
                str(REPO_ROOT / "tests"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert child.returncode == 0, child.stderr[-4000:]
        assert "child read 12" in child.stdout

        # the parent's session, open all along, sees the child's row and the child's table
        run_dbt(["run"])
        assert project.run_sql("select sum(doubled) from {schema}.doubled", fetch="one")[0] == 20
        greeting = project.run_sql("select greeting from {schema}.from_child", fetch="one")
        assert greeting[0] == "hello"
