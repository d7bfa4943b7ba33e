"""Functional fixtures: a dbt project installing this package, a sandbox, the runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dbt_segment_profiles.sandbox import Sandbox
from dbt_segment_profiles.sandbox.faults import Faults
from segment_testing import (
    ENDPOINT_ENV,
    REPO_ROOT,
    SERVE_KEY,
    WRITE_KEY_ENV,
    segment_project_config,
)


@pytest.fixture(scope="class")
def packages() -> dict[str, Any]:
    return {"packages": [{"local": str(REPO_ROOT)}]}


@pytest.fixture(scope="class")
def project_config_update() -> dict[str, Any]:
    return segment_project_config()


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    monkeypatch.setenv(WRITE_KEY_ENV, "test-write-key")
    with Sandbox(output=tmp_path / "received.jsonl", write_key="test-write-key") as server:
        monkeypatch.setenv(ENDPOINT_ENV, server.url)
        yield server


@pytest.fixture
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Start sandboxes on demand; the profile space points at the latest one."""
    started: list[Sandbox] = []
    monkeypatch.setenv(WRITE_KEY_ENV, SERVE_KEY)

    def start(faults: Faults | None = None, write_key: str = SERVE_KEY) -> Sandbox:
        box = Sandbox(
            output=tmp_path / f"received{len(started)}.jsonl", write_key=write_key, faults=faults
        ).start()
        started.append(box)
        monkeypatch.setenv(ENDPOINT_ENV, box.url)
        return box

    yield start
    for box in started:
        box.stop()
