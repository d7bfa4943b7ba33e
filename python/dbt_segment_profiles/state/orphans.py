"""Bookkeeping of mappings no longer declared: found, renamed onto a new name, or pruned."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import SegmentProfilesError
from ..fingerprint import definition, fingerprint
from ..mappings import Mapping
from ..warehouse import Warehouse

# the tables capture and sync keep per mapping: <mapping>__<role>
ROLES = ("state", "pending", "acks", "attempts", "invalid")
# the shared tables that name mappings in a mapping_name column
NAMED_IN = ("segment_mappings", "segment_captures", "segment_record_issues", "segment_runs")


@dataclass
class Orphan:
    """A mapping name with bookkeeping but no declaration in the project."""

    name: str
    tables: list[str] = field(default_factory=list)
    fingerprint: str | None = None
    issues: int = 0


def find_orphans(warehouse: Warehouse, declared: list[Mapping]) -> list[Orphan]:
    names = {m.name for m in declared}
    found: dict[str, Orphan] = {}
    for table in _bookkeeping_tables(warehouse):
        mapping, _, role = table.rpartition("__")
        if role in ROLES and mapping and mapping not in names:
            found.setdefault(mapping, Orphan(mapping)).tables.append(table)
    if warehouse.table_exists("segment_mappings"):
        for name, stored in warehouse.query(
            f"select mapping_name, fingerprint from {warehouse.table('segment_mappings')}"
        ):
            if name not in names:
                found.setdefault(name, Orphan(name)).fingerprint = stored
    if warehouse.table_exists("segment_record_issues"):
        for name, count in warehouse.query(
            "select mapping_name, count(*) from "
            f"{warehouse.table('segment_record_issues')} group by mapping_name"
        ):
            if name in found:
                found[name].issues = int(count)
    return sorted(found.values(), key=lambda o: o.name)


def renamed_from(warehouse: Warehouse, mapping: Mapping, orphans: list[Orphan]) -> str | None:
    """The orphan this new mapping looks like (same definition), if it has no state of its own
    that was ever acknowledged."""
    if warehouse.stored_fingerprint(mapping) is not None:
        return None
    mine = fingerprint(mapping)
    matches = [o.name for o in orphans if o.fingerprint == mine and o.tables]
    return matches[0] if len(matches) == 1 else None


def rename(warehouse: Warehouse, old: str, new: Mapping, declared: list[Mapping]) -> None:
    """Move OLD's state, history and fingerprint to NEW; NEW's own first capture is dropped."""
    orphans = {o.name: o for o in find_orphans(warehouse, declared)}
    if old not in orphans or not orphans[old].tables:
        known = ", ".join(sorted(orphans)) or "none"
        raise SegmentProfilesError(
            f"{old!r} has no bookkeeping left to rename (or is still declared)",
            hint=f"mappings no longer declared: {known}",
        )
    if warehouse.stored_fingerprint(new) is not None:
        raise SegmentProfilesError(
            f"mapping {new.name} has synced under its own name already: renaming {old} onto "
            "it would mix two states",
            hint=f"run `dbt-segment reset {new.name}` or `dbt-segment prune` instead",
        )
    with warehouse.transaction() as cur:
        for role in ROLES:
            target = f"{new.name}__{role}"
            warehouse.drop_table(cur, target)
            if f"{old}__{role}" in orphans[old].tables:
                warehouse.rename_table(cur, f"{old}__{role}", target)
        for table in NAMED_IN:
            if not warehouse.table_exists(table):
                continue
            if table != "segment_runs":
                # what NEW's own first capture recorded describes the state dropped above
                warehouse.delete_mapping_rows(cur, table, new.name)
            warehouse.rename_mapping_rows(cur, table, old, new.name)
    warehouse.store_fingerprint(new, fingerprint(new), definition(new))


def prune(warehouse: Warehouse, orphans: list[Orphan]) -> None:
    """Drop the tables and records of these orphans; the runs table keeps their history.
    Views over them (the package's segment_sync_invalid_keys) go too, until the next dbt run."""
    with warehouse.transaction() as cur:
        for orphan in orphans:
            for table in orphan.tables:
                warehouse.drop_table(cur, table)
            for table in NAMED_IN[:3]:
                if warehouse.table_exists(table):
                    warehouse.delete_mapping_rows(cur, table, orphan.name)


def _bookkeeping_tables(warehouse: Warehouse) -> list[str]:
    return warehouse.bookkeeping_tables()


__all__ = ["Orphan", "find_orphans", "prune", "rename", "renamed_from"]
