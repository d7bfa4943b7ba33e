"""`target/segment_sync_results.json`: what a sync did, in the spirit of run_results.json."""

from __future__ import annotations

from typing import Any

from . import __version__
from .sync import SyncResult


def results_document(result: SyncResult) -> dict[str, Any]:
    return {
        "metadata": {
            "generator": "dbt-segment-profiles",
            "version": __version__,
            "run_id": result.run_id,
            "started_at": result.started_at.isoformat(),
            "ended_at": result.ended_at.isoformat() if result.ended_at else None,
        },
        "elapsed_seconds": round(result.duration_seconds, 3),
        "exit_code": result.exit_code,
        "interrupted": result.interrupted,
        "results": [m.to_dict() for m in result.mappings],
    }
