"""The runner's writes to Spark's shared bookkeeping tables (segment_captures, segment_mappings,
segment_record_issues, segment_runs): row-level SQL on Delta, Iceberg and Hudi tables; on parquet
(which takes only appends and overwrites) a rewrite of the whole table, which is small.

A rewrite is the capture macros' (macros/utils/rewrite_table.sql): the table's new rows are
written to `<table>__sp_rewrite` (Spark registers a table created from a query once its files are
complete), copied over the table with `insert overwrite`, and the staging table is dropped. A kill
before the copy changes nothing; a kill during it leaves the staging table, and the next runner
(when it opens the warehouse) or the next `dbt run` finishes the copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..mappings import Mapping
from ..state.issues import latest_per_key
from .base import IssueRow, Warehouse

REWRITE = "__sp_rewrite"
ROW_LEVEL_FORMATS = ("delta", "iceberg", "hudi")

if TYPE_CHECKING:
    _Base = Warehouse
else:
    _Base = object


class SparkWrites(_Base):
    """Mixed into SparkWarehouse, before the shared Warehouse."""

    def __init__(self, adapter: Any, schema: str, wait_seconds: float = 0.0):
        super().__init__(adapter, schema)
        self._providers: dict[str, str] = {}
        self.finish_interrupted_rewrites()

    # rewrites ----------------------------------------------------------------------------
    def row_level(self, name: str) -> bool:
        """Whether a bookkeeping table takes UPDATE, DELETE and MERGE (its provider has a
        transaction log) or only appends and overwrites (parquet, orc, csv...)."""
        if name not in self._providers:
            provider = "parquet"
            for row in self.query(f"describe table extended {self.table(name)}"):
                if str(row[0]).strip().lower() == "provider":
                    provider = str(row[1]).strip().lower()
            self._providers[name] = provider
        return self._providers[name] in ROW_LEVEL_FORMATS

    def finish_interrupted_rewrites(self) -> None:
        """Complete every rewrite a kill interrupted: a staging table that exists is whole."""
        for staging in sorted(self._tables(f"*{REWRITE}")):
            if staging.endswith(REWRITE):
                self._copy_back(staging[: -len(REWRITE)])

    def rewrite(self, name: str, select_sql: str) -> None:
        """The table's rows become what `select_sql` selects (in the table's column order);
        it may read the table itself."""
        self.execute(f"create table {self.table(name + REWRITE)} using parquet as {select_sql}")
        self._copy_back(name)

    def _copy_back(self, name: str) -> None:
        staging = self.table(name + REWRITE)
        columns = ", ".join(self.quote(c) for c in self.column_types(self.table(name)))
        self.execute(f"insert overwrite table {self.table(name)} select {columns} from {staging}")
        self.execute(f"drop table {staging}")

    def _rewrite_rows(self, name: str, mapping_name: str, changed: dict[str, str]) -> None:
        """Rewrite a shared table with the columns in `changed` set to their expression on the
        rows of `mapping_name`."""
        is_it = f"mapping_name = {self.literal(mapping_name)}"
        selected = []
        for column in self.column_types(self.table(name)):
            name_sql = self.quote(column)
            if column in changed:
                expression = f"case when {is_it} then {changed[column]} else {name_sql} end"
                selected.append(f"{expression} as {name_sql}")
            else:
                selected.append(name_sql)
        self.rewrite(name, f"select {', '.join(selected)} from {self.table(name)}")

    # segment_captures ---------------------------------------------------------------------
    def record_attempts(self, mapping: Mapping) -> None:
        if self.row_level("segment_captures"):
            return super().record_attempts(mapping)
        self._rewrite_rows("segment_captures", mapping.name, {"attempted": "true"})

    def allow_mass_delete(self, mapping: Mapping) -> None:
        if self.row_level("segment_captures"):
            return super().allow_mass_delete(mapping)
        self._rewrite_rows(
            "segment_captures",
            mapping.name,
            {"allow_mass_delete": "true", "blocked_reason": "cast(null as string)"},
        )

    # segment_mappings ---------------------------------------------------------------------
    def store_fingerprint(self, mapping: Mapping, fingerprint: str, definition: str) -> None:
        if self.row_level("segment_mappings"):
            return super().store_fingerprint(mapping, fingerprint, definition)
        table = self.table("segment_mappings")
        lit = self.literal
        values = {
            "mapping_name": lit(mapping.name),
            "fingerprint": lit(fingerprint),
            "definition": lit(definition),
            "updated_at": "current_timestamp()",
        }
        columns = list(self.column_types(table))
        self.rewrite(
            "segment_mappings",
            f"select {', '.join(self.quote(c) for c in columns)} from {table} "
            f"where mapping_name <> {lit(mapping.name)} union all select "
            + ", ".join(f"{values.get(c, 'null')} as {self.quote(c)}" for c in columns),
        )

    # segment_record_issues ----------------------------------------------------------------
    def clear_resolved_issues(
        self, mapping: Mapping, recorded_since: datetime | None = None
    ) -> None:
        table = self.table("segment_record_issues")
        resolved = f"i.mapping_name = {self.literal(mapping.name)} "
        if recorded_since is not None:
            resolved += f"and i.last_seen < {self.literal(recorded_since)} "
        resolved += f"and {self._resolved(mapping, 'i.record_key')}"
        # most syncs resolve nothing: a count costs less than a rewrite
        if not self.query(f"select count(*) from {table} as i where {resolved}")[0][0]:
            return
        if self.row_level("segment_record_issues"):
            return self.execute(f"delete from {table} as i where {resolved}")
        self.rewrite(
            "segment_record_issues", f"select i.* from {table} as i where not ({resolved})"
        )

    def record_issues_by_rewrite(self, mapping_name: str, issues: Sequence[IssueRow]) -> None:
        """As state/issues.py records them (reason, kind and last_seen move, attempts grow),
        with the issues staged as VALUES lists: a MERGE on row-level tables, else a rewrite of
        the table as a full join of the mapping's rows with the staged ones."""
        rows = latest_per_key(issues)
        if not rows:
            return
        lit = self.literal
        numbers: dict[tuple[str, str, str], int] = {}
        keyed = []
        for record_key, operation, reason, kind in rows:
            what = (operation, kind, reason)
            keyed.append(f"({lit(record_key)}, {numbers.setdefault(what, len(numbers))})")
        reasons = ", ".join(
            f"({n}, {lit(op)}, {lit(kind)}, {lit(reason)})"
            for (op, kind, reason), n in numbers.items()
        )
        staged = (
            "select k.record_key, r.operation, r.kind, r.reason, true as staged from "
            f"(values {', '.join(keyed)}) as k(record_key, issue) join "
            f"(values {reasons}) as r(issue, operation, kind, reason) on r.issue = k.issue"
        )
        table = self.table("segment_record_issues")
        name = lit(mapping_name)
        now = lit(datetime.now(timezone.utc).replace(tzinfo=None))
        if self.row_level("segment_record_issues"):
            self.execute(
                f"merge into {table} as i using ({staged}) as s on i.mapping_name = {name} "
                "and i.record_key = s.record_key and i.operation = s.operation "
                "when matched then update set reason = s.reason, kind = s.kind, "
                f"last_seen = {now}, attempts = i.attempts + 1 when not matched then insert "
                "(mapping_name, record_key, operation, kind, reason, first_seen, last_seen, "
                f"attempts) values ({name}, s.record_key, s.operation, s.kind, s.reason, "
                f"{now}, {now}, 1)"
            )
            return
        new = {
            "mapping_name": name,
            "record_key": "case when s.staged then s.record_key else i.record_key end",
            "operation": "case when s.staged then s.operation else i.operation end",
            "kind": "case when s.staged then s.kind else i.kind end",
            "reason": "case when s.staged then s.reason else i.reason end",
            "first_seen": f"coalesce(i.first_seen, {now})",
            "last_seen": f"case when s.staged then {now} else i.last_seen end",
            "attempts": "case when s.staged is null then i.attempts "
            "when i.mapping_name is null then cast(1 as bigint) else i.attempts + 1 end",
        }
        columns = list(self.column_types(table))
        self.rewrite(
            "segment_record_issues",
            f"select {', '.join(self.quote(c) for c in columns)} from {table} "
            f"where mapping_name <> {name} union all select "
            + ", ".join(f"{new.get(c, 'null')} as {self.quote(c)}" for c in columns)
            + f" from (select * from {table} where mapping_name = {name}) as i "
            f"full outer join ({staged}) as s on i.record_key = s.record_key "
            "and i.operation = s.operation",
        )

    # prune and rename ---------------------------------------------------------------------
    def delete_mapping_rows(self, cur: Any, table: str, mapping_name: str) -> None:
        if self.row_level(table):
            return super().delete_mapping_rows(cur, table, mapping_name)
        self.rewrite(
            table,
            f"select * from {self.table(table)} "
            f"where not (mapping_name <=> {self.literal(mapping_name)})",
        )

    def rename_mapping_rows(self, cur: Any, table: str, old: str, new: str) -> None:
        if self.row_level(table):
            return super().rename_mapping_rows(cur, table, old, new)
        self._rewrite_rows(table, old, {"mapping_name": self.literal(new)})

    def rename_table(self, cur: Any, old: str, new: str) -> None:
        # Spark's new name is qualified too: unqualified, it may land in the current database
        cur.execute(f"alter table {self.table(old)} rename to {self.table(new)}")
