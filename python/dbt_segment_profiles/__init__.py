"""dbt-segment-profiles: send the rows your dbt models changed to Segment Profiles."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "plan", "report", "run", "spaces", "sync", "validate"]


def __getattr__(name: str) -> Any:
    # imported on first use, so `import dbt_segment_profiles` stays light for the sandbox
    if name in ("sync", "plan", "report", "run", "spaces", "validate"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
