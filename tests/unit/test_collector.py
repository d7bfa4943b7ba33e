"""The collector's settings while rows stream, and back after."""

from __future__ import annotations

import gc

import pytest

from dbt_segment_profiles.collector import STREAMING_THRESHOLD, streaming_collector


def test_streaming_freezes_what_was_there_and_restores_every_setting() -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with streaming_collector():
        assert gc.get_threshold() == (STREAMING_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_settings_come_back_when_the_sync_raises() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), streaming_collector():
        raise RuntimeError("a sync that fails")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cycles_made_while_streaming_are_still_collected() -> None:
    class Node:
        pass

    with streaming_collector():
        node = Node()
        node.self = node
        del node
        # a young collection still runs, only less often
        assert gc.collect(0) + gc.collect(1) >= 1
