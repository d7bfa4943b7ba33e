"""A Profile Space's write key by name: the Public API client against the sandbox's stand-in,
over real sockets (pagination, retries, refusals), and the choice of the source."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from dbt_segment_profiles.delivery.public_api import (
    LookupInterrupted,
    PublicApiClient,
    PublicApiError,
    PublicSource,
    choose,
    write_keys,
)
from dbt_segment_profiles.sandbox import Faults, Sandbox, add_sandbox_arguments, public_source
from dbt_segment_profiles.sandbox.command import public_sources_from
from dbt_segment_profiles.settings import ProfileSpace

TOKEN = "sgp_TOKEN_5e1f0c9a"
SOURCES = [
    public_source("Production Space", "wk-prod-1"),
    public_source("Website", "wk-web", kind="javascript"),
    public_source("Staging Space", "wk-staging"),
    public_source("Shared", "wk-shared-a", slug="shared_a"),
    public_source("Shared", "wk-shared-b", slug="shared_b"),
    public_source("Empty Space", ""),
    public_source("Backend", "wk-backend", kind="python"),
]


def space(url: str, source: str = "Production Space", **extra: Any) -> ProfileSpace:
    settings = {"max_attempts": 4, "backoff_seconds": 0.01, "max_backoff_seconds": 0.02}
    settings.update(extra)
    return ProfileSpace(
        name="default",
        public_api_token_env="TOKEN_ENV",
        source=source,
        public_api_endpoint=url,
        **settings,
    )


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(public_sources=SOURCES, public_api_token=TOKEN, public_page_size=2) as sandbox:
        yield sandbox


def get(box: Sandbox, query: str, token: str | None = TOKEN) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{box.url}/sources?{query}", headers=headers, timeout=5)


def test_the_stand_in_pages_like_segments_public_api(box: Sandbox) -> None:
    first = get(box, "pagination%5Bcount%5D=3&pagination%5Bcursor%5D=MA%3D%3D")
    assert first.status_code == 200
    data = first.json()["data"]
    assert [s["name"] for s in data["sources"]] == ["Production Space", "Website"]  # page size 2
    assert data["pagination"] == {
        "current": "MA==",
        "next": "Mg==",
        "previous": None,
        "totalEntries": 7,
    }
    # Segment's documented form, pagination.count, works too; no cursor is the first page
    last = get(box, "pagination.count=10&pagination.cursor=Ng==").json()["data"]
    assert [s["name"] for s in last["sources"]] == ["Backend"]
    assert last["pagination"]["next"] is None and last["pagination"]["previous"] == "NA=="
    assert get(box, "pagination.count=10").json()["data"]["pagination"]["current"] == "MA=="


@pytest.mark.parametrize(
    ("query", "token", "status"),
    [
        ("pagination.count=2", None, 401),
        ("pagination.count=2", "wrong", 401),
        ("", TOKEN, 400),
        ("pagination.count=0", TOKEN, 400),
        ("pagination.count=2&pagination.cursor=%21%21", TOKEN, 400),
    ],
)
def test_the_stand_in_refuses_bad_tokens_and_bad_pagination_with_segments_errors(
    box: Sandbox, query: str, token: str | None, status: int
) -> None:
    answer = get(box, query, token)
    assert answer.status_code == status
    (error,) = answer.json()["errors"]
    assert set(error) == {"type", "message"} and TOKEN not in answer.text
    # the Tracking API is still POST only; GET elsewhere is 405
    assert requests.get(f"{box.url}/v1/batch", timeout=5).status_code == 405


def test_the_client_follows_every_page_from_ma(box: Sandbox) -> None:
    client = PublicApiClient(space(box.url), TOKEN)
    sources = client.sources()
    assert [s.name for s in sources] == [s["name"] for s in SOURCES]
    assert client.pages == 4
    assert [(r["cursor"], r["count"]) for r in box.public_api.requests] == [
        ("MA==", 200),
        ("Mg==", 200),
        ("NA==", 200),
        ("Ng==", 200),
    ]
    assert sources[0] == PublicSource(
        "src_production_space", "Production Space", "production_space", "personas-compute"
    )
    assert sources[0].write_key == "wk-prod-1"
    assert "wk-prod-1" not in repr(sources) and "wk-prod-1" not in str(sources[0].describe())


def test_a_netrc_entry_for_the_host_does_not_replace_the_token(
    box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1\nlogin someone-else\npassword not-the-token\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    sources = PublicApiClient(space(box.url), TOKEN).sources()
    assert [s.name for s in sources] == [s["name"] for s in SOURCES]


def test_a_wrong_token_is_refused_at_once_and_never_echoed(box: Sandbox) -> None:
    box.public_api.echo_authorization = True  # as a careless proxy: the header in the error
    secret = "sgp_WRONG_token_91"
    with pytest.raises(PublicApiError) as raised:
        PublicApiClient(space(box.url), secret).sources()
    text = str(raised.value)
    assert "refused the token in TOKEN_ENV (HTTP 401" in text and "Source Admin" in text
    assert "Bearer [redacted]" in text and secret not in text
    assert len(box.public_api.requests) == 1  # a 401 is not retried


def test_429_and_5xx_are_retried_and_a_server_that_always_fails_is_named() -> None:
    flaky = Faults(fail_429=0.3, fail_500=0.3, retry_after=0.01, seed=3)
    with Sandbox(public_sources=SOURCES, public_page_size=2, faults=flaky) as box:
        client = PublicApiClient(space(box.url, max_attempts=20), TOKEN)
        assert len(client.sources()) == len(SOURCES) and client.pages == 4
    with Sandbox(public_sources=SOURCES, faults=Faults(always_status=503)) as box:
        with pytest.raises(PublicApiError, match=r"HTTP 503: injected fault.*after 4 attempts"):
            PublicApiClient(space(box.url), TOKEN).sources()
    with Sandbox() as box:  # no Public API stand-in: GET /sources is 405, not retried
        with pytest.raises(PublicApiError, match="answered HTTP 405"):
            PublicApiClient(space(box.url), TOKEN).sources()


def test_stop_interrupts_the_retries() -> None:
    stop = threading.Event()
    stop.set()
    with Sandbox(public_sources=SOURCES, faults=Faults(always_status=500)) as box:
        with pytest.raises(LookupInterrupted):
            PublicApiClient(space(box.url), TOKEN, stop).sources()


def listed() -> list[PublicSource]:
    from dbt_segment_profiles.delivery.public_api import _source

    return [_source(orjson.loads(orjson.dumps(s))) for s in SOURCES]


def test_the_source_is_chosen_by_name_among_profile_spaces_or_by_slug() -> None:
    assert choose(listed(), space("http://x")).write_key == "wk-prod-1"
    assert choose(listed(), space("http://x", "shared_b")).write_key == "wk-shared-b"
    assert choose(listed(), space("http://x", "src_staging_space")).name == "Staging Space"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "Nope",
            "no Profile Space source named 'Nope'; the token sees 5: 'Empty Space', "
            "'Production Space', 'Shared', 'Staging Space'",
        ),
        ("Shared", "2 Profile Space sources the token sees are named 'Shared' (slugs shared_a"),
        ("Website", "source 'Website' is not a Profile Space's (its kind is 'javascript'"),
        ("Empty Space", "Profile Space source 'Empty Space' has no write key"),
    ],
)
def test_a_source_that_names_no_single_profile_space_says_what_the_token_sees(
    source: str, message: str
) -> None:
    with pytest.raises(PublicApiError) as raised:
        choose(listed(), space("http://x", source))
    assert message in str(raised.value) and "nothing was sent" in str(raised.value)


def test_write_keys_list_once_per_token_and_keep_keys_out_of_their_repr(box: Sandbox) -> None:
    spaces = [
        space(box.url),
        ProfileSpace(**{**space(box.url).__dict__, "name": "staging", "source": "Staging Space"}),
        ProfileSpace(name="plain", write_key_env="PLAIN_KEY"),
    ]
    keys = write_keys(spaces, environ={"TOKEN_ENV": TOKEN, "PLAIN_KEY": "wk-plain"})
    assert keys == {"default": "wk-prod-1", "staging": "wk-staging", "plain": "wk-plain"}
    assert len(box.public_api.requests) == 4  # one listing, four pages, for both spaces
    assert "wk-" not in repr(keys) and TOKEN not in repr(PublicApiClient(spaces[0], TOKEN))
    with pytest.raises(PublicApiError, match="TOKEN_ENV .Public API token of profile space"):
        write_keys(spaces[:1], environ={})


def test_sandbox_flags_serve_named_profile_spaces_and_a_sources_file(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_sandbox_arguments(parser)
    args = parser.parse_args(["--public-source", "Demo Space", "--write-key", "wk-demo"])
    (demo,) = public_sources_from(args)
    assert (demo["name"], demo["writeKeys"], demo["metadata"]["slug"]) == (
        "Demo Space",
        ["wk-demo"],
        "personas-compute",
    )
    listing = tmp_path / "sources.json"
    listing.write_text(orjson.dumps(SOURCES[:2]).decode())
    args = parser.parse_args(["--public-sources", str(listing), "--public-source", "X"])
    assert [s["name"] for s in public_sources_from(args)] == ["Production Space", "Website", "X"]
    assert public_sources_from(parser.parse_args([])) is None


def test_spaces_without_a_profile_space_with_a_token_says_how_to_name_one() -> None:
    from types import SimpleNamespace

    from dbt_segment_profiles.errors import SegmentProfilesError
    from dbt_segment_profiles.settings import Settings
    from dbt_segment_profiles.spaces import spaces_context

    plain = Settings("s", {"default": ProfileSpace("default", write_key_env="K")})
    with pytest.raises(SegmentProfilesError, match="no profile space has a public_api_token_env"):
        spaces_context(SimpleNamespace(problems=[], settings=plain))
