"""What `dbt-segment status` reads from the warehouse: the last runs and the last error per
mapping."""

from __future__ import annotations

from typing import Any

from .mappings import Mapping
from .warehouse import Warehouse
from .warehouse.base import RUN_COLUMNS

ERROR_COLUMNS = ("kind", "reason", "rows")


def last_runs(warehouse: Warehouse, mappings: list[Mapping], limit: int) -> list[dict[str, Any]]:
    if not warehouse.table_exists("segment_runs"):
        return []
    runs: list[dict[str, Any]] = []
    p = warehouse.param
    for mapping in mappings:
        rows = warehouse.query(
            f"select {', '.join(RUN_COLUMNS)} from {warehouse.table('segment_runs')} "
            f"where mapping_name = {p} order by started_at desc limit {int(limit)}",
            (mapping.name,),
        )
        runs += [dict(zip(RUN_COLUMNS, row)) for row in rows]
    return runs


def last_errors(warehouse: Warehouse, mappings: list[Mapping]) -> dict[str, dict[str, Any]]:
    """Per mapping with rows still rejected or failed: the reason recorded last, its kind
    (rejected or failed) and how many rows have an issue. Mappings without issues are absent."""
    if not mappings or not warehouse.table_exists("segment_record_issues"):
        return {}
    marks = ", ".join([warehouse.param] * len(mappings))
    rows = warehouse.query(
        "select mapping_name, kind, reason, issue_rows from ("
        "select mapping_name, kind, reason, "
        "count(*) over (partition by mapping_name) as issue_rows, "
        # the reason ties break the order: one bulk recording gives many rows one last_seen
        "row_number() over (partition by mapping_name order by last_seen desc, reason) as n "
        f"from {warehouse.table('segment_record_issues')} where mapping_name in ({marks})"
        ") as issues where n = 1",
        [m.name for m in mappings],
    )
    found = {row[0]: dict(zip(ERROR_COLUMNS, row[1:])) for row in rows}
    return {m.name: found[m.name] for m in mappings if m.name in found}
