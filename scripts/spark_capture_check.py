"""Runs the capture macros on Spark (dbt-spark `method: session`) in a scratch project.

    python scripts/spark_capture_check.py [--keep] [--file-format parquet|delta]

A first `dbt run` finds every row added; after the acknowledgements a sync would record, a second
run finds only the changes (added, updated, deleted); a third, with nothing new, none. Then a
rewrite interrupted by a kill (its staging table left, the state emptied) is finished by the next
capture, and the mass-delete guard holds a capture that would delete most keys. dbt runs
in-process, so the Spark session (and its JVM, and the one-process Derby metastore) is shared by
every step and by the checks' own queries. Needs `pip install "dbt-spark[session]"` and Java.
Exits 1 on the first failed check, printing each step's time.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "analytics"
BOOKKEEPING = "analytics_segment"
HEADER = "user_id,email,plan,seen_at"

MODEL = (
    "select user_id, email, plan, cast(seen_at as timestamp) as seen_at"
    " from {{ ref('raw_users') }}\n"
)
SCHEMA_YML = {
    "version": 2,
    "models": [
        {
            "name": "dim_users",
            "config": {
                "meta": {
                    "segment": {
                        "primary_key": "user_id",
                        "mappings": [
                            {
                                "name": "users",
                                "action": "identify",
                                "profile_space": "default",
                                "send": ["added", "updated", "deleted"],
                                "max_deleted_percent": 50,
                                "fields": {
                                    "user_id": "user_id",
                                    "traits": {"email": "email", "plan": "plan"},
                                    "timestamp": "seen_at",
                                },
                            },
                            {
                                "name": "users_added",
                                "action": "identify",
                                "profile_space": "default",
                                "send": ["added"],
                                "max_deleted_percent": None,
                                "fields": {"user_id": "user_id", "traits": ["plan"]},
                            },
                        ],
                    }
                }
            },
        }
    ],
}


def write_project(root: Path, file_format: str) -> None:
    (root / "models").mkdir(parents=True)
    (root / "seeds").mkdir()
    (root / "dbt_project.yml").write_text(
        yaml.safe_dump(
            {
                "name": "spark_capture_check",
                "version": "1.0",
                "config-version": 2,
                "profile": "spark_capture_check",
                "models": {
                    "+post-hook": "{{ segment_profiles.capture_changes() }}",
                    "+materialized": "table",
                    "+file_format": file_format,
                },
                "seeds": {"+file_format": file_format},
                "vars": {
                    "segment_profiles": {
                        "file_format": file_format,
                        "profile_spaces": {"default": {"write_key_env": "SEGMENT_WRITE_KEY"}},
                    }
                },
            }
        )
    )
    (root / "packages.yml").write_text(yaml.safe_dump({"packages": [{"local": str(ROOT)}]}))
    (root / "models" / "dim_users.sql").write_text(MODEL)
    (root / "models" / "schema.yml").write_text(yaml.safe_dump(SCHEMA_YML, sort_keys=False))
    parameters = {
        "spark.sql.warehouse.dir": str(root / "wh"),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={root / 'derby'}",
        "spark.sql.shuffle.partitions": "2",
        "spark.ui.enabled": "false",
    }
    profile = {
        "type": "spark",
        "method": "session",
        "host": "NA",
        "schema": SCHEMA,
        "threads": 1,
        "server_side_parameters": parameters,
    }
    (root / "profiles.yml").write_text(
        yaml.safe_dump({"spark_capture_check": {"target": "dev", "outputs": {"dev": profile}}})
    )


def write_seed(root: Path, rows: list[str]) -> None:
    (root / "seeds" / "raw_users.csv").write_text("\n".join([HEADER, *rows]) + "\n")


class Check:
    def __init__(self, root: Path) -> None:
        from dbt.cli.main import dbtRunner

        self.root = root
        self.runner = dbtRunner()
        self.started = time.monotonic()

    def dbt(self, *args: str) -> None:
        began = time.monotonic()
        result = self.runner.invoke(
            [*args, "--project-dir", str(self.root), "--profiles-dir", str(self.root)]
        )
        print(f"  dbt {' '.join(args)}: {time.monotonic() - began:.1f} s", flush=True)
        if not result.success:
            errors = [
                r.message
                for r in getattr(result.result, "results", None) or []
                if str(r.status) in ("error", "fail")
            ]
            raise SystemExit(f"dbt {' '.join(args)} failed: {result.exception or errors}")

    def sql(self, statement: str) -> list[tuple]:
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
        return [tuple(row) for row in spark.sql(statement).collect()]

    def pending(self, mapping: str = "users") -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        table = f"{BOOKKEEPING}.{mapping}__pending"
        for op, key in self.sql(f"select __sp_op, __sp_key from {table}"):
            found.setdefault(op, set()).add(key)
        return found

    def acknowledge(self, mapping: str = "users", but: str = "") -> None:
        """What `dbt-segment sync` records after a 2xx: the pending rows it carried (all, or all
        but the key `but`, whose batch got no answer)."""
        self.sql(
            f"insert into {BOOKKEEPING}.{mapping}__acks select __sp_key, __sp_hash, __sp_op,"
            f" __sp_version, current_timestamp() from {BOOKKEEPING}.{mapping}__pending"
            f" where __sp_key <> '{but}'"
        )

    def mark_attempted(self, mapping: str) -> None:
        """What a sync records before sending: segment_captures.attempted (a whole-table
        rewrite through a copy: parquet has no UPDATE, and Spark overwrites no table it reads)."""
        table = f"{BOOKKEEPING}.segment_captures"
        columns = [row[0] for row in self.sql(f"describe {table}") if row[0] and row[0][0] != "#"]
        select = ", ".join(
            f"mapping_name = '{mapping}' or attempted as attempted" if c == "attempted" else c
            for c in columns
        )
        self.sql(f"create table {table}__copy using parquet as select {select} from {table}")
        self.sql(f"insert overwrite table {table} select * from {table}__copy")
        self.sql(f"drop table {table}__copy")

    def expect(self, what: str, actual: object, expected: object) -> None:
        if actual != expected:
            raise SystemExit(f"FAILED {what}: {actual!r} != {expected!r}")
        print(f"ok {what}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the scratch project")
    parser.add_argument(
        "--file-format", default="parquet", choices=["parquet", "delta", "iceberg"]
    )
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sp-spark-"))
    try:
        write_project(root, options.file_format)
        check = Check(root)
        check.dbt("deps")
        write_seed(
            root,
            [
                "1,a@x.io,free,2024-01-01 10:00:00",
                "2,b@x.io,pro,2024-01-02 10:00:00",
                "3,c@x.io,,2024-01-03 10:00:00",
                "4,d@x.io,free,2024-01-04 10:00:00",
            ],
        )
        check.dbt("seed")
        check.dbt("run")
        check.expect(
            "first run: every row added", check.pending(), {"added": {"1", "2", "3", "4"}}
        )
        check.acknowledge()
        check.acknowledge("users_added")

        write_seed(
            root,
            [
                "1,a@x.io,free,2024-01-01 10:00:00",
                "2,b@x.io,free,2024-01-02 10:00:00",
                "3,c@x.io,,2024-01-03 10:00:00",
                "5,e@x.io,pro,2024-01-05 10:00:00",
            ],
        )
        check.dbt("seed", "--full-refresh")
        check.dbt("run")
        check.expect(
            "second run: only the changes",
            check.pending(),
            {"added": {"5"}, "updated": {"2"}, "deleted": {"4"}},
        )
        versions = dict(
            check.sql(f"select __sp_key, __sp_version from {BOOKKEEPING}.users__pending")
        )
        check.expect("an update's change version follows the state's", versions["2"], 2)
        check.expect(
            "a mapping sending only added rows takes the others into its state at once",
            check.pending("users_added"),
            {"added": {"5"}},
        )
        check.acknowledge("users_added")
        # a sync set out to send, and got no answer for the batch carrying key 5
        check.mark_attempted("users")
        check.acknowledge(but="5")

        check.dbt("run")
        check.expect(
            "third run: the key in doubt is sent again", check.pending(), {"added": {"5"}}
        )
        versions = dict(
            check.sql(f"select __sp_key, __sp_version from {BOOKKEEPING}.users__pending")
        )
        check.expect("under the same change version (the same messageId)", versions["5"], 1)
        check.acknowledge()

        check.dbt("run")
        check.expect("fourth run, nothing new: nothing pending", check.pending(), {})
        check.expect("nor for the other mapping", check.pending("users_added"), {})
        check.expect(
            "no attempt is left in doubt",
            check.sql(f"select count(*) from {BOOKKEEPING}.users__attempts"),
            [(0,)],
        )
        state = check.sql(
            f"select record_key, row_hash is null, change_version from {BOOKKEEPING}.users__state"
        )
        check.expect(
            "the state folds every acknowledgement (a deleted key keeps its version)",
            sorted(state),
            [("1", False, 1), ("2", False, 2), ("3", False, 1), ("4", True, 2), ("5", False, 1)],
        )

        if options.file_format == "parquet":
            # a kill during `insert overwrite`: the state's files gone, its staging table complete
            check.sql(
                f"create table {BOOKKEEPING}.users__state__sp_rewrite using parquet as"
                f" select * from {BOOKKEEPING}.users__state"
            )
            check.sql(f"truncate table {BOOKKEEPING}.users__state")
            check.dbt("run")
            check.expect("a rewrite a kill interrupted is finished", check.pending(), {})
            tables = {row[1] for row in check.sql(f"show tables in {BOOKKEEPING}")}
            check.expect(
                "no staging or scratch table is left",
                sorted(t for t in tables if "__sp_" in t),
                [],
            )

        check.dbt(
            "run-operation",
            "segment_profiles.reset_mapping",
            "--args",
            "{mapping_name: users, rebaseline: true}",
        )
        check.expect("reset --rebaseline leaves nothing to send", check.pending(), {})
        check.dbt("run")
        check.expect("and the next run finds nothing either", check.pending(), {})
        state = check.sql(
            f"select record_key, row_hash is null, change_version from {BOOKKEEPING}.users__state"
        )
        check.expect(
            "the current rows are the state, under new change versions",
            sorted(state),
            [("1", False, 2), ("2", False, 3), ("3", False, 2), ("4", True, 2), ("5", False, 2)],
        )

        write_seed(root, ["1,a@x.io,free,2024-01-01 10:00:00"])
        check.dbt("seed", "--full-refresh")
        check.dbt("run")
        blocked = check.sql(
            f"select blocked_reason from {BOOKKEEPING}.segment_captures"
            " where mapping_name = 'users'"
        )
        check.expect(
            "the mass-delete guard holds a capture deleting 3 of 4 keys",
            blocked[0][0].startswith("mass-delete guard"),
            True,
        )
        check.expect(
            "and keeps the state",
            check.sql(
                f"select count(*) from {BOOKKEEPING}.users__state where row_hash is not null"
            ),
            [(4,)],
        )
        print(f"all checks passed in {time.monotonic() - check.started:.0f} s")
        return 0
    finally:
        if options.keep:
            print(f"project kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
