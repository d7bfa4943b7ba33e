"""dbt's JSON schemas of its config classes, kept on disk between runs of `dbt-segment`.

dbt validates dbt_project.yml, profiles.yml and the adapter's credentials against JSON schemas
it builds from its dataclasses (mashumaro) the first time each is asked for in a process: about
0.6 s of CPU in every command (the project 0.22 s, the runtime config 0.19 s, the project flags
0.13 s, DuckDB's credentials 0.10 s), a fifth of a sync with nothing to send. A schema is a pure
function of the class's source, so the command-line process keeps each one in a file named after
the versions of the packages that define them, and under a key holding the class's module file's
size and modification time: an upgrade or an edit builds it again. Validation itself is dbt's,
unchanged. Where the cache cannot be read or written, dbt builds the schemas as it always does.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

CACHE_DIR_ENV = "DBT_SEGMENT_CACHE_DIR"
# the distributions whose code shapes the schemas (mashumaro builds them)
_SHAPING = ("dbt-core", "dbt-common", "dbt-adapters", "mashumaro")


class SchemaCache:
    """Schemas by class, read from one file on first use, written back once at exit if any
    were built meanwhile."""

    def __init__(self, path: Path):
        self.path = path
        self._schemas: dict[str, Any] | None = None
        self._built = False

    def get(self, cls: type, build: Callable[[], Any]) -> Any:
        key = _class_key(cls)
        if key is None:
            return build()
        schemas = self._load()
        schema = schemas.get(key)
        if schema is None:
            schema = build()
            schemas[key] = schema
            self._built = True
        return schema

    def save(self) -> None:
        """Write the schemas when some were built here: merged with what another process may
        have written meanwhile, replaced in one rename."""
        if not self._built or self._schemas is None:
            return
        try:
            merged = {**_read(self.path), **self._schemas}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(handle, "w") as out:
                json.dump(merged, out)
            os.replace(temporary, self.path)
            self._built = False
        except (OSError, TypeError, ValueError):  # read-only home, or a schema JSON can't hold
            pass

    def _load(self) -> dict[str, Any]:
        if self._schemas is None:
            self._schemas = _read(self.path)
        return self._schemas


def install(cache_dir: Path | None = None) -> SchemaCache | None:
    """dbt's `json_schema` answered from the cache in this process (once; None where dbt's
    method is not the one this was written for)."""
    from dbt_common.dataclass_schema import dbtClassMixin

    current = dbtClassMixin.__dict__.get("json_schema")
    if isinstance(current, classmethod) and isinstance(
        getattr(current.__func__, "schema_cache", None), SchemaCache
    ):
        return current.__func__.schema_cache
    build = getattr(current, "__func__", None)
    if not isinstance(current, classmethod) or build is None:
        return None
    cache = SchemaCache(_cache_file(cache_dir or default_cache_dir()))

    def json_schema(cls: type) -> Any:
        return cache.get(cls, lambda: build(cls))

    json_schema.schema_cache = cache  # type: ignore[attr-defined]
    dbtClassMixin.json_schema = classmethod(json_schema)  # type: ignore[assignment,method-assign]
    atexit.register(cache.save)
    return cache


def default_cache_dir() -> Path:
    chosen = os.environ.get(CACHE_DIR_ENV)
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dbt-segment-profiles"


def _cache_file(cache_dir: Path) -> Path:
    versions = [sys.version]
    for name in _SHAPING:
        try:
            versions.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} missing")
    digest = hashlib.sha256("\n".join(versions).encode()).hexdigest()[:16]
    return cache_dir / f"dbt-json-schemas-{digest}.json"


def _class_key(cls: type) -> str | None:
    """The class, and the size and modification time of the file that defines it; None for a
    class made at run time (no file, or made in a function: two can share a name)."""
    if "<locals>" in cls.__qualname__:
        return None
    module = sys.modules.get(cls.__module__)
    source = getattr(module, "__file__", None)
    if not source:
        return None
    try:
        stat = os.stat(source)
    except OSError:
        return None
    return f"{cls.__module__}:{cls.__qualname__}:{stat.st_size}:{stat.st_mtime_ns}"


def _read(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}
