"""Every macro in macros/ is documented in macros/_macros.yml, with its arguments, and no other."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MACRO = re.compile(r"\{%-?\s*macro\s+(\w+)\s*\(([^)]*)\)")


def defined_macros() -> dict[str, list[str]]:
    """Each macro defined in macros/**/*.sql, with its arguments' names."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "macros").rglob("*.sql")):
        for name, arguments in MACRO.findall(path.read_text()):
            assert name not in found, f"{name} is defined twice"
            found[name] = [a.split("=")[0].strip() for a in arguments.split(",") if a.strip()]
    return found


def documented_macros() -> dict[str, dict]:
    entries = yaml.safe_load((ROOT / "macros" / "_macros.yml").read_text())["macros"]
    names = [entry["name"] for entry in entries]
    assert len(names) == len(set(names)), "a macro is documented twice"
    return {entry["name"]: entry for entry in entries}


def test_every_macro_is_documented_and_every_entry_is_a_macro() -> None:
    defined, documented = set(defined_macros()), set(documented_macros())
    assert defined - documented == set(), "macros missing from macros/_macros.yml"
    assert documented - defined == set(), "entries in macros/_macros.yml for no macro"


def test_every_entry_has_a_description_and_the_macros_arguments_in_order() -> None:
    defined = defined_macros()
    for name, entry in documented_macros().items():
        assert (entry.get("description") or "").strip(), f"{name} has no description"
        arguments = entry.get("arguments") or []
        assert [a["name"] for a in arguments] == defined.get(name), name
        for argument in arguments:
            assert (argument.get("description") or "").strip(), f"{name}({argument['name']})"
