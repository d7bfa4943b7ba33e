"""A command keeps of dbt's manifest only what its checks read, and they find the same problems."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from dbt_segment_profiles.capture_checks import capture_problems
from dbt_segment_profiles.context import checked_parts

HOOK = {"sql": "{{ segment_profiles.capture_changes() }}"}


def _model(name: str, **config: Any) -> dict[str, Any]:
    return {
        "unique_id": f"model.shop.{name}",
        "name": name,
        "resource_type": "model",
        "package_name": "shop",
        "config": {"materialized": "table", "post-hook": [HOOK], **config},
        "raw_code": "select 1" * 1_000,
        "compiled_code": "select 1" * 1_000,
        "columns": {"id": {"name": "id", "description": "the key"}},
        "description": "a model",
    }


def _manifest() -> dict[str, Any]:
    models = [
        _model("dim_users", meta={"segment": {}}),
        _model("dim_hookless", **{"post-hook": []}),
        _model("dim_ephemeral", materialized="ephemeral"),
        _model("dim_typo", meta={"segmnet": {}}),
    ]
    return {
        "metadata": {"project_name": "shop"},
        "nodes": {
            **{m["unique_id"]: m for m in models},
            "test.shop.not_null": {"resource_type": "test", "name": "not_null"},
        },
        "macros": {f"macro.shop.m{i}": {"macro_sql": "x" * 1_000} for i in range(100)},
        "sources": {"source.shop.raw": {"name": "raw"}},
    }


def test_only_model_names_and_configs_are_kept() -> None:
    slim = checked_parts(_manifest())
    assert set(slim) == {"metadata", "nodes"}
    assert sorted(slim["nodes"]) == sorted(
        f"model.shop.{n}" for n in ("dim_users", "dim_hookless", "dim_ephemeral", "dim_typo")
    )
    for node in slim["nodes"].values():
        assert set(node) == {"unique_id", "name", "resource_type", "package_name", "config"}


def test_the_checks_find_the_same_problems_in_what_is_kept() -> None:
    manifest = _manifest()
    mappings = [
        SimpleNamespace(model_id=f"model.shop.{name}", model_name=name)
        for name in ("dim_users", "dim_hookless", "dim_ephemeral")
    ]
    problems = capture_problems(manifest, mappings)  # type: ignore[arg-type]
    assert [(p.model, p.key) for p in problems] == [
        ("dim_hookless", "post-hook"),
        ("dim_ephemeral", "materialized"),
        ("dim_typo", "meta.segmnet"),
    ]
    assert capture_problems(checked_parts(manifest), mappings) == problems  # type: ignore[arg-type]
