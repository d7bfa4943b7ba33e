"""The last sync runs per mapping, from the runs table in the warehouse."""

from __future__ import annotations

from typing import Any

from .mappings import Mapping
from .warehouse import Warehouse
from .warehouse.base import RUN_COLUMNS


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
