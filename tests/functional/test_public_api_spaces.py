"""A profile space named by its Profile Space's source, with a Public API token: `spaces` lists
what the token sees, `sync` looks the write key up and delivers, and a wrong token, an unknown
name or an ambiguous one stop everything before anything is sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dbt.tests.util import run_dbt

from dbt_segment_profiles.sandbox import Sandbox, public_source
from segment_testing import (
    ENDPOINT_ENV,
    received,
    segment,
    segment_project_config,
    write_seed,
)

TOKEN_ENV = "SEGMENT_TEST_PUBLIC_API_TOKEN"
SOURCE_ENV = "SEGMENT_TEST_SOURCE"
TOKEN = "sgp_functional_TOKEN_4d2b"
PROD_KEY = "wk-PROD-resolved-0a9e"
# six sources, two a page: three pages; four are Profile Spaces' (personas-compute)
SOURCES = [
    public_source("Production Space", PROD_KEY),
    public_source("Website", "wk-web-never-used", kind="javascript"),
    public_source("Staging Space", "wk-staging-never-used"),
    public_source("Shared", "wk-shared-a", slug="shared_a"),
    public_source("Backend", "wk-backend-never-used", kind="python"),
    public_source("Shared", "wk-shared-b", slug="shared_b"),
]
KEYS = [key for s in SOURCES for key in s["writeKeys"]]

YML = """
version: 2
models:
  - name: dim_users
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: users
              action: identify
              profile_space: default
              fields: {user_id: id, traits: [email]}
"""


@pytest.fixture
def box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """The sandbox as both APIs: it accepts only the Production Space's write key."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv(SOURCE_ENV, "Production Space")
    with Sandbox(
        output=tmp_path / "received.jsonl",
        write_key=PROD_KEY,
        public_sources=SOURCES,
        public_api_token=TOKEN,
        public_page_size=2,
    ) as server:
        monkeypatch.setenv(ENDPOINT_ENV, server.url)
        yield server


def without_secrets(document: Any) -> None:
    text = json.dumps(document)
    assert TOKEN not in text and not [key for key in KEYS if key in text]


class TestProfileSpaceByName:
    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict[str, Any]:
        endpoint = "{{ env_var('" + ENDPOINT_ENV + "') }}"
        return segment_project_config(
            write_key_env=None,
            public_api_token_env=TOKEN_ENV,
            source="{{ env_var('" + SOURCE_ENV + "') }}",
            public_api_endpoint=endpoint,
            max_attempts=2,
            backoff_seconds=0.01,
        )

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": "select * from {{ ref('raw_users') }}", "schema.yml": YML}

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def built(cls, project: Any) -> None:
        run_dbt(["deps"])
        write_seed(project, "raw_users", "id,email", [(1, "a@x.io"), (2, "b@x.io")])
        run_dbt(["run"])

    def test_spaces_lists_the_profile_spaces_the_token_sees_over_three_pages(
        self, project: Any, box: Sandbox
    ) -> None:
        code, document = segment(project, "spaces")
        assert code == 0, document
        (listing,) = document["profile_spaces"]
        assert listing["problem"] is None and listing["region"] == "us"
        assert [(s["name"], s["slug"]) for s in listing["sources"]] == [
            ("Production Space", "production_space"),
            ("Shared", "shared_a"),
            ("Shared", "shared_b"),
            ("Staging Space", "staging_space"),
        ]
        assert [r["cursor"] for r in box.public_api.requests] == ["MA==", "Mg==", "NA=="]
        code, everything = segment(project, "spaces", "--all")
        assert code == 0 and len(everything["profile_spaces"][0]["sources"]) == 6
        without_secrets([document, everything])

    def test_sync_looks_the_write_key_up_by_name_and_delivers(
        self, project: Any, box: Sandbox
    ) -> None:
        code, document = segment(project, "sync")
        assert code == 0, document
        assert document["results"][0]["acknowledged"] == 2
        # the sandbox takes only the Production Space's key: it was looked up, over 3 pages
        assert sorted(m["userId"] for m in received(box)) == ["1", "2"]
        assert len(box.public_api.requests) == 3
        without_secrets(document)

    def test_a_wrong_token_stops_the_sync_before_anything_is_sent(
        self, project: Any, box: Sandbox, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        rows = [(1, "a@x.io"), (2, "b@x.io"), (3, "c@x.io")]
        write_seed(project, "raw_users", "id,email", rows)
        run_dbt(["run"])
        monkeypatch.setenv(TOKEN_ENV, "sgp_not_the_token")
        code, document = segment(project, "sync")
        assert code == 2
        assert f"refused the token in {TOKEN_ENV} (HTTP 401" in document["error"]
        assert "nothing was sent" in document["error"]
        assert received(box) == [] and box.stats.snapshot()["requests"] == 0
        results = Path(project.project_root) / "target" / "segment_sync_results.json"
        assert json.loads(results.read_text())["exit_code"] == 2
        assert segment(project, "spaces")[0] == 2
        assert "sgp_not_the_token" not in json.dumps(document) + results.read_text()
        # the changes wait: with the right token the next sync sends them
        monkeypatch.setenv(TOKEN_ENV, TOKEN)
        code, document = segment(project, "sync")
        assert code == 0 and document["results"][0]["sent"] == 1

    def test_an_unknown_source_name_lists_the_names_the_token_sees(
        self, project: Any, box: Sandbox, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(SOURCE_ENV, "Prod Space")
        code, document = segment(project, "sync")
        assert code == 2
        assert (
            "no Profile Space source named 'Prod Space'; the token sees 4: 'Production Space', "
            "'Shared', 'Staging Space'" in document["error"]
        )
        assert box.stats.snapshot()["requests"] == 0
        code, listing = segment(project, "spaces")
        assert code == 2 and "'Prod Space'" in listing["profile_spaces"][0]["problem"]
        assert len(listing["profile_spaces"][0]["sources"]) == 4
        without_secrets([document, listing])

    def test_two_profile_spaces_with_that_name_stop_the_sync(
        self, project: Any, box: Sandbox, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(SOURCE_ENV, "Shared")
        code, document = segment(project, "sync")
        assert code == 2
        assert "2 Profile Space sources the token sees are named 'Shared'" in document["error"]
        assert "shared_a, shared_b" in document["error"]
        assert box.stats.snapshot()["requests"] == 0
        without_secrets(document)

    def test_validate_names_an_unset_token_variable(
        self, project: Any, box: Sandbox, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv(TOKEN_ENV)
        code, document = segment(project, "validate")
        assert code == 2
        assert [p["message"] for p in document["problems"]] == [
            f"environment variable {TOKEN_ENV} (Public API token of profile space 'default') "
            "is not set"
        ]
        assert box.public_api.requests == []  # validate asks no server
