"""Functional fixtures: a dbt project installing this package, a sandbox, the runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dbt_segment_profiles.sandbox import Sandbox
from segment_testing import ENDPOINT_ENV, REPO_ROOT, WRITE_KEY_ENV, segment_project_config


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
