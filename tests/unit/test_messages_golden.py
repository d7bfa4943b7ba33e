"""Golden tests: tests/golden/<action>/<case>.json hold a mapping, rows and the exact messages.

Each row either has `expected` (the message, compared as parsed JSON, key presence included, and
every number by its exact text: 12.50 is not 12.5, 5 is not 5.0) or `rejected` (the exact
reason). A row value `{"$decimal": "<digits>"}` stands for a DECIMAL column's value, which JSON
cannot otherwise express. The library version in `expected` follows the package version so that a
release does not rewrite every file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dbt_segment_profiles import __version__
from dbt_segment_profiles.mappings import Mapping, load_mappings
from dbt_segment_profiles.messages import Rejection, compile_mapping
from dbt_segment_profiles.settings import ProfileSpace, Settings

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CASES = sorted(GOLDEN.glob("*/*.json"))


@dataclass(frozen=True)
class Number:
    """A JSON number as its text, so that comparisons are digit for digit."""

    text: str

    def __repr__(self) -> str:
        return self.text


def exact(data: str | bytes) -> Any:
    """JSON parsed with every number kept as its text."""
    return json.loads(data, parse_float=Number, parse_int=Number)


def warehouse_value(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$decimal"}:
        return Decimal(value["$decimal"])
    return value


def make_mapping(action: str, raw: dict[str, Any]) -> Mapping:
    """A Mapping parsed by load_mappings from a manifest holding one model with this mapping."""
    node = {
        "resource_type": "model",
        "name": "dim_test",
        "unique_id": "model.test.dim_test",
        "config": {
            "meta": {
                "segment": {
                    "primary_key": "id",
                    "mappings": [{"action": action, "profile_space": "default", **raw}],
                }
            }
        },
    }
    settings = Settings(
        schema="segment_sync",
        profile_spaces={"default": ProfileSpace(name="default", write_key_env="SEGMENT_KEY")},
    )
    result = load_mappings({"nodes": {node["unique_id"]: node}}, settings)
    assert not result.problems, [str(p) for p in result.problems]
    (mapping,) = result.mappings
    return mapping


def test_every_action_has_golden_files() -> None:
    assert {path.parent.name for path in CASES} == {"identify", "group", "track", "subscriptions"}


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    case = json.loads(text)
    expected_rows = exact(text)["rows"]
    builder = compile_mapping(make_mapping(path.parent.name, case["mapping"]), case["columns"])
    for number, entry in enumerate(case["rows"]):
        where = f"{path.name} row {number} ({entry.get('note', '')})"
        result = builder.build(
            [warehouse_value(value) for value in entry["row"]],
            entry["operation"],
            entry["key"],
            entry["row_hash"],
            entry["change_version"],
        )
        if "rejected" in entry:
            assert isinstance(result, Rejection), where
            assert result.reason == entry["rejected"], where
            continue
        assert isinstance(result, bytes), f"{where}: {result}"
        expected = expected_rows[number]["expected"]
        expected["context"]["library"]["version"] = __version__
        assert exact(result) == expected, where
