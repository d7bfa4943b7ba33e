"""The warehouse the dbt target points at, reached through the target's dbt adapter."""

from __future__ import annotations

from typing import Any

from ..errors import SegmentProfilesError
from ..project import DbtProject
from .base import (
    MASS_DELETE,
    Acks,
    CaptureStatus,
    IssueRow,
    MappingsLocked,
    PendingStream,
    RecordIssue,
    RunRecord,
    Warehouse,
    quote,
)

__all__ = [
    "MASS_DELETE",
    "Acks",
    "CaptureStatus",
    "IssueRow",
    "MappingsLocked",
    "PendingStream",
    "RecordIssue",
    "RunRecord",
    "Warehouse",
    "adapter_for",
    "open_warehouse",
    "quote",
]


def _duckdb() -> type[Warehouse]:
    from .duckdb import DuckDBWarehouse

    return DuckDBWarehouse


def _postgres() -> type[Warehouse]:
    from .postgres import PostgresWarehouse

    return PostgresWarehouse


def _spark() -> type[Warehouse]:
    from .spark import SparkWarehouse

    return SparkWarehouse


# the Warehouse subclass of each dbt adapter type (imported when used: each needs its driver).
# Not "databricks": dbt-databricks' cursors bind parameters and fetch in their own way, and its
# Delta tables take row-level writes; SparkWarehouse's SQL would fit, its connection code not yet.
WAREHOUSES = {"duckdb": _duckdb, "postgres": _postgres, "spark": _spark}


def adapter_for(project: DbtProject) -> Any:
    """The target's dbt adapter, built as dbt's register_adapter builds it (the adapter class
    of the profile's type, over this runtime config), but kept out of dbt's process-wide
    registry: dbt commands run in this process (and whoever calls them) find there the adapter
    they registered themselves."""
    from dbt.adapters.factory import get_adapter_class_by_name
    from dbt.mp_context import get_mp_context

    return get_adapter_class_by_name(project.adapter_type)(project.config, get_mp_context())


def open_warehouse(project: DbtProject, schema: str, wait_seconds: float = 0.0) -> Warehouse:
    """Connections to the target's warehouse, for the bookkeeping schema given."""
    kind = project.adapter_type
    if kind not in WAREHOUSES:
        raise SegmentProfilesError(
            f"target {project.target_name!r} is a {kind!r} warehouse; supported: "
            + ", ".join(sorted(WAREHOUSES))
        )
    adapter = adapter_for(project)
    return WAREHOUSES[adapter.type()]()(adapter, schema, wait_seconds)
