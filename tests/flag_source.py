"""dbt's behavior flags name the module that declared them with `inspect.stack()`, once per flag
each time an adapter is built. Under pytest that stack is about 70 frames deep and
`inspect.getmodule` scans every loaded module for frames of no file (Jinja's templates): about
0.05 s per flag, 0.9 s per adapter, and every `run_dbt` and every in-process `dbt-segment`
builds one (28 s of a 46 s test, profiled). The answer is always the first module outside
`dbt_common.behavior_flags` on the stack; frames know their module's name without reading
their source, so the same answer comes from walking them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from dbt_common import behavior_flags

_FLAGS_MODULE = behavior_flags.__name__


def frame_module_name() -> str:
    """The name of the first module on the caller's stack outside dbt_common.behavior_flags,
    as `BehaviorFlagRendered._default_source` finds it."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__")
        if name and name != _FLAGS_MODULE and not frame.f_code.co_filename.startswith("<"):
            return str(name)
        frame = frame.f_back
    return "Unknown"


def install() -> None:
    """Give dbt the same answer without `inspect.stack()`; dbt's own stays beside it."""
    rendered = behavior_flags.BehaviorFlagRendered
    if not hasattr(rendered, "dbt_default_source"):
        rendered.dbt_default_source = rendered.__dict__["_default_source"]
    rendered._default_source = staticmethod(frame_module_name)


def dbt_default_source() -> Callable[[], str]:
    """dbt's own `_default_source`, installed or not."""
    rendered = behavior_flags.BehaviorFlagRendered
    own = rendered.__dict__.get("dbt_default_source") or rendered.__dict__["_default_source"]
    return own.__func__
