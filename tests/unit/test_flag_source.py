"""The tests' stand-in for dbt's behavior-flag source gives dbt's own answer."""

from __future__ import annotations

from typing import Any

import pytest
from dbt_common.behavior_flags import Behavior, BehaviorFlagRendered
from flag_source import dbt_default_source, install

FLAGS = [
    {"name": "a_flag", "default": False, "description": "one"},
    {"name": "another_flag", "default": True, "docs_url": "https://example.com"},
]


def _sources() -> list[str]:
    behavior = Behavior([dict(flag) for flag in FLAGS], {})
    return [flag._behavior_change_event.flag_source for flag in behavior._flags]


def _nested(depth: int, call: Any) -> Any:
    # a deeper stack, with a frame of no file on it, as dbt's Jinja templates leave
    if depth == 0:
        return call()
    return eval("_nested(depth - 1, call)", {"_nested": _nested, "depth": depth, "call": call})


@pytest.mark.parametrize("depth", [0, 5])
def test_the_same_module_as_dbts_own_lookup(monkeypatch: pytest.MonkeyPatch, depth: int) -> None:
    install()
    ours = _nested(depth, _sources)
    own = staticmethod(dbt_default_source())
    monkeypatch.setattr(BehaviorFlagRendered, "_default_source", own)
    dbts = _nested(depth, _sources)
    assert ours == dbts == [__name__, __name__]
