"""Recording alone: N issues through the runner's own recording, in the sync's call sizes.

Run as a script by bench_delivery.py after its every-row-rejected syncs, on the same DuckDB file.
Records N issues (keys 0..N-1, the reason the sync gave) for a mapping name of its own, in calls
of the warehouse's `issue_rows` issues staged and merged as the sync's recorder does (IssueStage),
twice (new rows, then the same rows again: attempts 2);
checks the rows, deletes them, and writes the seconds of each pass as JSON to --result. The
issues are built before the clock starts: only recording is timed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from dbt_segment_profiles.project import locate
from dbt_segment_profiles.state.issues import IssueStage
from dbt_segment_profiles.warehouse import RecordIssue, Warehouse, open_warehouse
from dbt_segment_profiles.warehouse.duckdb import RUNNER_SETTINGS

MAPPING = "bench_record_issues_alone"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--reason", required=True)
    parser.add_argument("--result", required=True)
    args = parser.parse_args()
    issues = [RecordIssue(str(i), "added", args.reason, "rejected") for i in range(args.rows)]
    warehouse = duckdb_warehouse(Path(args.db), args.schema)
    size = warehouse.issue_rows
    calls = [issues[start : start + size] for start in range(0, len(issues), size)]
    table = warehouse.table("segment_record_issues")
    seconds, checks = [], []
    try:
        for _ in range(2):
            started = time.perf_counter()
            # as the sync's recorder does: each call staged, merged every issue_merge_rows
            stage = IssueStage(warehouse, MAPPING, all_new=not seconds)
            for call in calls:
                stage.add(call)
            stage.close()
            seconds.append(time.perf_counter() - started)
            # the check's distinct count is the benchmark's, not the runner's: not under its cap
            warehouse.execute("set memory_limit = '1GB'")
            checks.append(
                list(
                    warehouse.query(
                        f"select count(*), count(distinct record_key), min(attempts), "
                        f"max(attempts) from {table} where mapping_name = ?",
                        (MAPPING,),
                    )[0]
                )
            )
            warehouse.execute(f"set memory_limit = '{RUNNER_SETTINGS['memory_limit']}'")
        warehouse.execute(f"delete from {table} where mapping_name = ?", (MAPPING,))
    finally:
        warehouse.close()
    result = {"rows": args.rows, "calls": len(calls), "seconds": seconds, "checks": checks}
    Path(args.result).write_text(json.dumps(result))


def duckdb_warehouse(database: Path, schema: str) -> Warehouse:
    """The DuckDB file opened as the runner opens it: through dbt, from a profile."""
    root = database.parent / "record_issues_project"
    root.mkdir(exist_ok=True)
    (root / "dbt_project.yml").write_text(
        "name: record_issues\nversion: '1.0'\nprofile: record_issues\nconfig-version: 2\n"
    )
    output = {"type": "duckdb", "path": str(database)}
    profile = {"record_issues": {"target": "dev", "outputs": {"dev": output}}}
    (root / "profiles.yml").write_text(json.dumps(profile))
    return open_warehouse(locate(root, root), schema)


if __name__ == "__main__":
    main()
