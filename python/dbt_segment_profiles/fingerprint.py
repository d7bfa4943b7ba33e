"""A mapping's definition, fingerprinted: a change of what is sent asks for a reset first."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .mappings import FieldSource, Mapping, Source


def _source(source: FieldSource) -> Any:
    if isinstance(source, Source):
        if source.column is not None:
            return {"column": source.column}
        return {"value": source.constant}
    if source.column is not None:
        return {"column": source.column}
    # entry order does not change what Segment stores, so it does not change the fingerprint
    return {"entries": sorted([name, _source(inner)] for name, inner in source.entries)}


def definition(mapping: Mapping) -> str:
    """The parts of a mapping that decide each row's message, as canonical JSON."""
    return json.dumps(
        {
            "action": mapping.action,
            "primary_key": mapping.primary_key,
            "fields": {name: _source(src) for name, src in sorted(mapping.fields.items())},
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )


def fingerprint(mapping: Mapping) -> str:
    return hashlib.sha256(definition(mapping).encode()).hexdigest()[:32]
