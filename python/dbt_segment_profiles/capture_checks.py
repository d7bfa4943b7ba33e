"""Ways a mapped model can silently go uncaptured, found in the manifest and run results."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from .errors import ConfigProblem
from .mappings import Mapping

CAPTURE_HOOK = "segment_profiles.capture_changes()"
_HOOK_LINE = '`+post-hook: "{{ segment_profiles.capture_changes() }}"`'


def capture_problems(manifest: dict[str, Any], mappings: list[Mapping]) -> list[ConfigProblem]:
    """A problem per mapped model that has no capture post-hook or is ephemeral, and per model
    whose meta names `segment` with a typo."""
    nodes = manifest.get("nodes", {})
    problems: list[ConfigProblem] = []
    seen: set[str] = set()
    for mapping in mappings:
        node = nodes.get(mapping.model_id)
        if node is None or mapping.model_id in seen:
            continue
        seen.add(mapping.model_id)
        config = node.get("config") or {}
        if config.get("materialized") == "ephemeral":
            problems.append(
                ConfigProblem(
                    mapping.model_name,
                    None,
                    "materialized",
                    "is ephemeral: it has no relation to capture changes from; materialize it "
                    "as a view, table or incremental model",
                )
            )
        elif not any(CAPTURE_HOOK in str(h.get("sql", "")) for h in config.get("post-hook", [])):
            problems.append(
                ConfigProblem(
                    mapping.model_name,
                    None,
                    "post-hook",
                    "does not run segment_profiles.capture_changes(), so `dbt run` captures "
                    f"none of its changes: add {_HOOK_LINE} under `models:` in dbt_project.yml",
                )
            )
    problems += _meta_typos(nodes)
    return problems


def uncaptured_builds(
    target_path: Path, mappings: list[Mapping], captured: dict[str, str | None]
) -> list[ConfigProblem]:
    """Mapped models the last dbt invocation built while their capture did not run in it:
    `captured` maps each mapping to the invocation id its last capture recorded."""
    results = _run_results(target_path)
    if results is None:
        return []
    invocation = results.get("metadata", {}).get("invocation_id")
    built = {
        r.get("unique_id")
        for r in results.get("results", [])
        if r.get("status") == "success" and str(r.get("unique_id", "")).startswith("model.")
    }
    problems = []
    for mapping in mappings:
        last = captured.get(mapping.name)
        if mapping.model_id in built and invocation and last and last != invocation:
            problems.append(
                ConfigProblem(
                    mapping.model_name,
                    mapping.name,
                    "post-hook",
                    f"was built by the last dbt invocation ({invocation}) but its last capture "
                    f"is from an earlier one ({last}): its post-hook did not capture. Add "
                    f"{_HOOK_LINE} and `dbt run` again",
                )
            )
    return problems


def _meta_typos(nodes: dict[str, Any]) -> list[ConfigProblem]:
    problems = []
    for node in nodes.values():
        if node.get("resource_type") != "model":
            continue
        meta = (node.get("config") or {}).get("meta") or {}
        for key in meta:
            if key != "segment" and difflib.get_close_matches(str(key), ["segment"], 1, 0.7):
                problems.append(
                    ConfigProblem(
                        node.get("name"),
                        None,
                        f"meta.{key}",
                        "looks like a misspelt `segment`: its mappings are ignored until it "
                        "is spelt `segment`",
                    )
                )
    return problems


def _run_results(target_path: Path) -> dict[str, Any] | None:
    try:
        return json.loads((target_path / "run_results.json").read_text())
    except (OSError, ValueError):
        return None
