"""dbt's config schemas kept on disk: the same schemas dbt builds, built again when the class's
source changes, and dbt's own answer wherever the cache cannot be used."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.credentials import DuckDBCredentials
from dbt.contracts.project import Configuration, Project, ProjectFlags
from dbt_common.dataclass_schema import dbtClassMixin

from dbt_segment_profiles import schema_cache
from dbt_segment_profiles.schema_cache import SchemaCache

# what every command validates: dbt_project.yml, its flags, the credentials, the runtime config
DBT_CLASSES = (Project, ProjectFlags, DuckDBCredentials, Configuration)


def dbt_built(cls: type) -> Any:
    """dbt's own schema, built now, whatever this process patched."""
    from mashumaro.jsonschema import build_json_schema

    return build_json_schema(cls).to_dict()


def never(cls: type) -> Any:
    def build() -> Any:
        raise AssertionError(f"{cls.__name__}'s schema was built, not read from the cache")

    return build


def test_a_schema_read_back_is_the_one_dbt_builds(tmp_path: Path) -> None:
    path = tmp_path / "schemas.json"
    writer = SchemaCache(path)
    for cls in DBT_CLASSES:
        assert writer.get(cls, lambda cls=cls: dbt_built(cls)) == dbt_built(cls)
    writer.save()
    reader = SchemaCache(path)
    for cls in DBT_CLASSES:
        assert reader.get(cls, never(cls)) == dbt_built(cls)


def test_a_class_whose_file_changed_is_built_again(tmp_path: Path) -> None:
    source = tmp_path / "segment_cache_probe.py"
    source.write_text(
        "from dataclasses import dataclass\n"
        "from dbt_common.dataclass_schema import dbtClassMixin\n"
        "@dataclass\n"
        "class Probe(dbtClassMixin):\n"
        "    name: str\n"
    )
    spec = importlib.util.spec_from_file_location("segment_cache_probe", source)
    module = importlib.util.module_from_spec(spec)
    sys.modules["segment_cache_probe"] = module
    try:
        spec.loader.exec_module(module)
        path = tmp_path / "schemas.json"
        first = SchemaCache(path)
        first.get(module.Probe, lambda: {"built": 1})
        first.save()
        assert SchemaCache(path).get(module.Probe, never(module.Probe)) == {"built": 1}
        stat = source.stat()
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        assert SchemaCache(path).get(module.Probe, lambda: {"built": 2}) == {"built": 2}
    finally:
        del sys.modules["segment_cache_probe"]


def test_classes_made_in_a_function_are_not_cached(tmp_path: Path) -> None:
    def make(field_type: type) -> type:
        from dataclasses import make_dataclass

        made = make_dataclass("Made", [("value", field_type)], bases=(dbtClassMixin,))
        made.__qualname__ = "make.<locals>.Made"
        return made

    cache = SchemaCache(tmp_path / "schemas.json")
    assert cache.get(make(str), lambda: {"type": "str"}) == {"type": "str"}
    assert cache.get(make(int), lambda: {"type": "int"}) == {"type": "int"}


def test_an_unwritable_cache_is_left_alone(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cache = SchemaCache(blocker / "schemas.json")
    assert cache.get(Project, lambda: dbt_built(Project)) == dbt_built(Project)
    cache.save()  # no error: the directory cannot be made
    assert blocker.read_text() == ""


def test_a_damaged_file_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "schemas.json"
    path.write_text("{not json")
    cache = SchemaCache(path)
    assert cache.get(ProjectFlags, lambda: dbt_built(ProjectFlags)) == dbt_built(ProjectFlags)
    cache.save()
    assert len(json.loads(path.read_text())) == 1


# a fresh interpreter: dbt validates a project with the cache installed, twice, and the second
# process reads every schema it needs from the file the first one wrote
CHILD = """
import json, sys
from dbt_segment_profiles import schema_cache
cache = schema_cache.install()
from dbt.contracts.project import Configuration, Project, ProjectFlags
built = []
original = cache.get
def counting(cls, build):
    return original(cls, lambda: built.append(cls.__name__) or build())
cache.get = counting
ProjectFlags.validate({})
try:
    Project.validate({"name": 3})
except Exception as error:
    rejected = type(error).__name__
print(json.dumps({"built": built, "rejected": rejected}))
"""


def test_dbt_validates_through_the_cache_in_a_new_process(tmp_path: Path) -> None:
    env = {**os.environ, schema_cache.CACHE_DIR_ENV: str(tmp_path / "cache")}

    def child() -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    first, second = child(), child()
    assert sorted(first["built"]) == ["Project", "ProjectFlags"]
    assert second["built"] == []
    # the schema read back still rejects what dbt rejects
    assert first["rejected"] == second["rejected"] == "ValidationError"
