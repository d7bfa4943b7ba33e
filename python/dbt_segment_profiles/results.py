"""`target/segment_sync_results.json`: what a sync did, in the spirit of run_results.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import __version__
from .sync_engine import SyncResult

# bumped whenever a field changes meaning or goes away (additions keep it)
SCHEMA_VERSION = 2


def results_document(result: SyncResult, args: list[str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {
            "schema_version": SCHEMA_VERSION,
            "generator": "dbt-segment-profiles",
            "version": __version__,
            "run_id": result.run_id,
            "started_at": result.started_at.isoformat(),
            "ended_at": result.ended_at.isoformat() if result.ended_at else None,
        },
        "elapsed_seconds": round(result.duration_seconds, 3),
        "args": list(args or []),
        "exit_code": result.exit_code,
        "interrupted": result.interrupted,
        "error": result.error,
        "results": [m.to_dict() for m in result.mappings],
    }


def write_results(target_path: Path, result: SyncResult, args: list[str] | None = None) -> Path:
    path = target_path / "segment_sync_results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results_document(result, args), indent=2, default=str))
    return path
