"""The README's reference matches the code, and its YAML examples are the demo's."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import yaml

from dbt_segment_profiles.mappings import ACTION_FIELDS, REQUIRED_FIELDS, load_mappings
from dbt_segment_profiles.project import render_vars, vars_context
from dbt_segment_profiles.settings import _SPACE_KEYS, parse_settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def yaml_blocks() -> list[dict]:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    return [yaml.safe_load(textwrap.dedent(b)) for b in blocks]


def test_every_field_of_every_action_is_documented_with_its_required_ones() -> None:
    for action, fields in ACTION_FIELDS.items():
        (row,) = [line for line in README.splitlines() if line.startswith(f"| `{action}` |")]
        documented = set(re.findall(r"`(\w+)`", row.split("|")[2]))
        assert documented == set(fields), action
        assert set(re.findall(r"\*\*`(\w+)`\*\*", row)) == set(REQUIRED_FIELDS[action])


def test_every_profile_space_key_is_documented() -> None:
    section = README.split("### Profile spaces")[1].split("\n## ")[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", section, flags=re.M))
    documented |= set(re.findall(r"`(max_backoff_seconds)`", section))
    assert documented == _SPACE_KEYS


def test_the_readme_schema_example_is_the_demos_and_validates() -> None:
    schema_example = next(b for b in yaml_blocks() if b and isinstance(b.get("models"), list))
    demo = yaml.safe_load((ROOT / "integration_tests/models/schema.yml").read_text())
    assert schema_example["models"][0]["config"] == demo["models"][0]["config"]
    project_example = next(b for b in yaml_blocks() if b and "vars" in b)
    rendered = render_vars(
        project_example["vars"]["segment_profiles"], vars_context({"name": "prod"})
    )
    settings, problems = parse_settings(rendered, "analytics")
    assert problems == [] and settings.schema == "segment_sync_prod"
    demo_project = yaml.safe_load((ROOT / "integration_tests/dbt_project.yml").read_text())
    assert project_example["models"]["+post-hook"] == demo_project["models"]["+post-hook"]
    node = {
        "resource_type": "model",
        "name": "dim_customers",
        "unique_id": "model.p.dim_customers",
        "config": schema_example["models"][0]["config"],
    }
    result = load_mappings({"nodes": {"m": node}}, settings)
    assert result.problems == []
    assert [m.name for m in result.mappings] == ["customers_to_profiles", "customer_signed_up"]


def test_every_documented_deviation_names_golden_rows_that_exist() -> None:
    section = README.split("### Where this differs from Segment's actions")[1].split("\n### ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 5  # the header and four deviations
    for row in rows[1:]:
        tests = row.split("|")[5]
        cases = re.findall(r"`test_golden\[(\w+/\w+)\]`((?: rows? [\d\-, and]+)?)", tests)
        assert cases, row
        for case, numbers in cases:
            golden = json.loads((ROOT / "tests/golden" / f"{case}.json").read_text())
            for number in re.findall(r"\d+", numbers):
                assert int(number) < len(golden["rows"]), (case, number)
