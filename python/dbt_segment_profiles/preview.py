"""Segment's "Test Mapping": pending counts and sample messages exactly as sync would send them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from .mappings import Mapping
from .messages import Rejection, compile_mapping
from .warehouse import Warehouse


@dataclass
class MappingPlan:
    mapping: str
    model: str
    action: str
    profile_space: str
    pending: dict[str, int]
    invalid_keys: int
    samples: list[dict[str, Any]] = field(default_factory=list)
    rejected_samples: list[dict[str, str]] = field(default_factory=list)
    # why sync will not send this mapping now; None when it will
    blocked: str | None = None
    # with `plan MAPPING --key K`: that record's message (or rejection), pending or not
    record: dict[str, Any] | None = None


def plan_mappings(
    warehouse: Warehouse,
    mappings: list[Mapping],
    samples: int,
    blocked: dict[str, str] | None = None,
) -> list[MappingPlan]:
    """Reads only: no state changes, nothing sent."""
    plans = []
    for mapping in mappings:
        plan = MappingPlan(
            mapping.name,
            mapping.model_name,
            mapping.action,
            mapping.profile_space,
            warehouse.pending_counts(mapping),
            sum(n for _, _, n in warehouse.invalid_keys(mapping)),
            blocked=(blocked or {}).get(mapping.name),
        )
        if samples > 0 and sum(plan.pending.values()):
            stream = warehouse.stream_pending(mapping, chunk_rows=max(samples, 100))
            try:
                builder = compile_mapping(mapping, stream.columns)
                for chunk in stream:
                    for row in chunk:
                        message = builder.build(row, row[1], row[2], row[3], row[4])
                        if isinstance(message, Rejection):
                            reason = {"key": row[2], "reason": message.reason}
                            plan.rejected_samples.append(reason)
                        else:
                            plan.samples.append(orjson.loads(message))
                        if len(plan.samples) >= samples:
                            break
                    break
            finally:
                stream.close()
        plans.append(plan)
    return plans


def plan_record(warehouse: Warehouse, plan: MappingPlan, mapping: Mapping, key: str) -> None:
    """Segment's Test Mapping for one record: its exact message, or why it is rejected."""
    stream = warehouse.record_rows(mapping, key)
    rows = [row for chunk in stream for row in chunk]
    if not rows:
        plan.record = {"key": key, "found": False}
        return
    row = rows[0]
    builder = compile_mapping(mapping, stream.columns)
    message = builder.build(row, row[1], row[2], row[3], row[4])
    record: dict[str, Any] = {
        "key": key,
        "found": True,
        "pending": bool(row[-1]),
        "operation": row[1],
        "change_version": row[4],
    }
    if isinstance(message, Rejection):
        record["rejected"] = message.reason
    else:
        record["message"] = orjson.loads(message)
    plan.record = record
