"""`dbt-segment reset`: forget a mapping's state (or rebaseline it) and capture anew."""

from __future__ import annotations

import json

from .context import Context
from .errors import SegmentProfilesError
from .fingerprint import definition, fingerprint
from .mappings import Mapping
from .project import dbt_flags


def reset_mapping(
    ctx: Context, mapping: Mapping, rebaseline: bool, cli_vars: str | None = None
) -> dict[str, int]:
    """Run the package's reset macro through dbt; returns the pending counts afterwards."""
    from dbt.cli.main import dbtRunner

    # dbt opens the warehouse itself; DuckDB refuses a second writer with another configuration
    ctx.close()
    args = [
        "run-operation",
        "segment_profiles.reset_mapping",
        "--args",
        json.dumps({"mapping_name": mapping.name, "rebaseline": rebaseline}),
        "--quiet",
        *dbt_flags(ctx.project, cli_vars),
    ]
    result = dbtRunner().invoke(args)
    if not result.success:
        raise SegmentProfilesError(
            f"resetting {mapping.name} failed: {result.exception or 'see the dbt log above'}",
            hint="is the model built (`dbt run`) and the package installed (`dbt deps`)?",
        )
    ctx.warehouse.store_fingerprint(mapping, fingerprint(mapping), definition(mapping))
    return ctx.warehouse.pending_counts(mapping)
