"""The warehouse the dbt target points at, opened with its own driver."""

from __future__ import annotations

from ..errors import SegmentProfilesError
from ..project import DbtProject
from .base import (
    MASS_DELETE,
    Ack,
    CaptureStatus,
    MappingsLocked,
    PendingStream,
    RecordIssue,
    RunRecord,
    Warehouse,
    quote,
)

__all__ = [
    "MASS_DELETE",
    "Ack",
    "CaptureStatus",
    "MappingsLocked",
    "PendingStream",
    "RecordIssue",
    "RunRecord",
    "Warehouse",
    "open_warehouse",
    "quote",
]


def open_warehouse(project: DbtProject, schema: str, wait_seconds: float = 0.0) -> Warehouse:
    """A connection to the target's warehouse, for the bookkeeping schema given."""
    kind = project.adapter_type
    if kind == "duckdb":
        from .duckdb import DuckDBWarehouse

        return DuckDBWarehouse(
            schema, project.target.get("path", ":memory:"), project.project_dir, wait_seconds
        )
    if kind == "postgres":
        from .postgres import PostgresWarehouse

        return PostgresWarehouse(schema, project.target)
    raise SegmentProfilesError(
        f"target {project.target_name!r} is a {kind!r} warehouse; supported: duckdb, postgres"
    )
