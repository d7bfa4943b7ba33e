"""dbt's manifest read a node at a time: the same as a whole parse cut down, in a fraction of
the memory, and every part of the runner reads only the node keys it keeps."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dbt_segment_profiles import manifest_reader
from dbt_segment_profiles.capture_checks import capture_problems
from dbt_segment_profiles.context import checked_parts
from dbt_segment_profiles.errors import SegmentProfilesError
from dbt_segment_profiles.manifest_reader import NODE_KEYS, ManifestError, read_manifest
from dbt_segment_profiles.mappings import load_mappings
from dbt_segment_profiles.project import _built_for, _read
from dbt_segment_profiles.settings import parse_settings

HOOK = {"sql": "{{ segment_profiles.capture_changes() }}"}
SETTINGS, _ = parse_settings(
    {"profile_spaces": {"default": {"write_key_env": "SEGMENT_WRITE_KEY"}}}, "analytics"
)
TRICKY = 'a "quoted" {brace} [bracket], \\ back\\slash, Zoë 😀 東京 \u00e9 \t tab'


def _model(name: str, segment: Any = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"owner": TRICKY, "resource_type": "not a node", "n": -1.5e-7}
    if segment is not None:
        meta["segment"] = segment
    return {
        "unique_id": f"model.shop.{name}",
        "name": name,
        "resource_type": "model",
        "package_name": "shop",
        "language": "sql",
        "database": "analytics",
        "schema": "main",
        "relation_name": f'"analytics"."main"."{name}"',
        "tags": ["nightly", TRICKY],
        "config": {"materialized": "table", "post-hook": [HOOK], "meta": meta},
        "raw_code": f"select '{TRICKY}' as x, 12345678901234567890 as big",
        "compiled_code": "select 1 " * 200,
        "columns": {"id": {"name": "id", "description": TRICKY, "meta": {"k": [1, 2.5, None]}}},
        "checksum": {"name": "sha256", "checksum": "0" * 64},
        **extra,
    }


def _manifest(models: int = 6) -> dict[str, Any]:
    identify = {
        "primary_key": "id",
        "mappings": [
            {
                "name": "users_to_profiles",
                "action": "identify",
                "profile_space": "default",
                "fields": {"user_id": "id", "traits": ["email"]},
            }
        ],
    }
    nodes = {
        f"model.shop.m{i}": _model(f"m{i}", identify if i == 0 else None) for i in range(models)
    }
    nodes["test.shop.not_null"] = {"resource_type": "test", "name": "not_null", "raw_code": "x"}
    nodes["seed.shop.raw"] = {"resource_type": "seed", "name": "raw", "config": {"meta": {}}}
    return {
        "metadata": {"project_name": "shop", "dbt_version": "1.11.0", "env": {}, "n": 0},
        "nodes": nodes,
        "sources": {},
        "macros": {f"macro.shop.m{i}": {"macro_sql": TRICKY * 10} for i in range(50)},
        "parent_map": {key: ["model.shop.m0"] for key in nodes},
        "disabled": None,
        "semantic_models": {},
        "answer": 42,
        "ratio": -0.5,
        "flag": True,
    }


def _cut(manifest: dict[str, Any]) -> dict[str, Any]:
    """What reading should give: the whole parse, cut down."""
    nodes = {key: manifest_reader.kept_node(node) for key, node in manifest["nodes"].items()}
    return {"metadata": manifest["metadata"], "nodes": nodes}


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
@pytest.mark.parametrize("ascii_only", [True, False])
@pytest.mark.parametrize("indent", [None, 2])
def test_reading_gives_the_whole_parse_cut_down(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chunk: int,
    ascii_only: bool,
    indent: int | None,
) -> None:
    manifest = _manifest()
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest, ensure_ascii=ascii_only, indent=indent), "utf-8")
    monkeypatch.setattr(manifest_reader, "_CHUNK_CHARS", chunk)
    read = read_manifest(path)
    assert read == _cut(manifest)
    model = read["nodes"]["model.shop.m0"]
    assert set(model) == set(NODE_KEYS)
    assert model["config"]["meta"]["resource_type"] == "not a node"
    assert model["tags"] == ["nightly", TRICKY]
    assert read["nodes"]["test.shop.not_null"] == {"resource_type": "test"}


def test_the_runner_reads_no_node_key_it_does_not_keep() -> None:
    """Every reader of nodes (mappings, the checks before sending, the target check) is run
    over nodes that record each key asked for: a new read of a key left out of NODE_KEYS would
    find nothing in a manifest read by read_manifest."""
    asked: set[str] = set()

    class Recording(dict):  # type: ignore[type-arg]
        def __getitem__(self, key: str) -> Any:
            asked.add(key)
            return super().__getitem__(key)

        def get(self, key: str, default: Any = None) -> Any:
            asked.add(key)
            return super().get(key, default)

        def __contains__(self, key: object) -> bool:
            asked.add(str(key))
            return super().__contains__(key)

    manifest = _manifest()
    manifest["nodes"] = {key: Recording(node) for key, node in manifest["nodes"].items()}
    loaded = load_mappings(manifest, SETTINGS)
    assert [m.name for m in loaded.mappings] == ["users_to_profiles"]
    capture_problems(manifest, loaded.mappings)
    checked_parts(manifest)
    target = SimpleNamespace(target={"schema": "main", "database": "analytics"})
    assert _built_for(manifest, target)  # type: ignore[arg-type]
    assert asked and asked <= set(NODE_KEYS), asked - set(NODE_KEYS)


def test_mappings_from_the_read_manifest_equal_those_of_the_whole(tmp_path: Path) -> None:
    manifest = _manifest()
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest), "utf-8")
    read = read_manifest(path)
    assert load_mappings(read, SETTINGS) == load_mappings(manifest, SETTINGS)
    assert capture_problems(read, load_mappings(read, SETTINGS).mappings) == capture_problems(
        manifest, load_mappings(manifest, SETTINGS).mappings
    )


def test_memory_is_a_fraction_of_a_whole_parse(tmp_path: Path) -> None:
    """json.loads holds the file's text and every object in it at once; reading holds a chunk,
    one entry and what is kept. Nodes as a documented project's: their SQL, compiled SQL and
    columns are most of the file."""
    columns = {
        f"col_{i}": {"name": f"col_{i}", "description": "what it holds " * 8, "meta": {}}
        for i in range(30)
    }
    manifest = _manifest(models=1_000)
    for node in manifest["nodes"].values():
        node.update(raw_code="select 1 " * 300, compiled_code="select 1 " * 400, columns=columns)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest), "utf-8")
    assert path.stat().st_size > 10_000_000

    def peak_of(read: Any) -> tuple[Any, int]:
        tracemalloc.start()
        try:
            result = read()
            return result, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    read, peak = peak_of(lambda: read_manifest(path))
    whole, whole_peak = peak_of(lambda: json.loads(path.read_text("utf-8")))
    assert read == _cut(whole)
    assert peak < whole_peak / 4, (peak, whole_peak)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        '{"metadata": {"project_name": "shop"}, "nodes": {"model.a": {"name": "a"',
        '{"metadata": {}} trailing',
        '{"metadata": {}, "nodes": {"a": nul}}',
        '{"metadata": {} "nodes": {}}',
        "{1: 2}",
    ],
)
def test_a_broken_manifest_is_refused_by_name(tmp_path: Path, text: str) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(text, "utf-8")
    with pytest.raises(ManifestError):
        read_manifest(path)
    with pytest.raises(SegmentProfilesError) as raised:
        _read(path)
    assert str(path) in str(raised.value)
    assert "dbt parse" in (raised.value.hint or "")
