"""`target/segment_sync_results.json`: what a sync did, in the spirit of run_results.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import __version__
from .sync_engine import SyncResult


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


def write_results(target_path: Path, result: SyncResult) -> Path:
    path = target_path / "segment_sync_results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results_document(result), indent=2, default=str))
    return path
