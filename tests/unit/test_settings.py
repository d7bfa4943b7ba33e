"""Profile space settings: an empty endpoint means the region's host."""

from __future__ import annotations

import pytest

from dbt_segment_profiles.project import render_vars, vars_context
from dbt_segment_profiles.settings import parse_settings

ENDPOINT = "{{ env_var('SEGMENT_ENDPOINT', '') }}"


def batch_url(space: dict) -> str:
    rendered = render_vars({"profile_spaces": {"default": space}}, vars_context({"name": "dev"}))
    settings, problems = parse_settings(rendered, "analytics")
    assert problems == []
    return settings.profile_spaces["default"].batch_url


@pytest.mark.parametrize("value", [None, "", "   "])
def test_an_unset_or_empty_endpoint_variable_means_the_regions_host(
    value: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is None:
        monkeypatch.delenv("SEGMENT_ENDPOINT", raising=False)
    else:
        monkeypatch.setenv("SEGMENT_ENDPOINT", value)
    space = {"write_key_env": "K", "endpoint": ENDPOINT}
    assert batch_url(space) == "https://api.segment.io/v1/batch"
    assert batch_url({**space, "region": "eu"}) == "https://events.eu1.segmentapis.com/v1/batch"


@pytest.mark.parametrize("literal", ["", "  ", None])
def test_an_empty_endpoint_written_in_the_project_means_the_regions_host(literal: str) -> None:
    space = {"write_key_env": "K", "region": "eu", "endpoint": literal}
    assert batch_url(space) == "https://events.eu1.segmentapis.com/v1/batch"


def test_a_set_endpoint_variable_points_the_space_at_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGMENT_ENDPOINT", "http://127.0.0.1:8088")
    assert batch_url({"write_key_env": "K", "endpoint": ENDPOINT}) == (
        "http://127.0.0.1:8088/v1/batch"
    )


@pytest.mark.parametrize("bad", ["127.0.0.1:8088", 8088])
def test_an_endpoint_that_is_not_a_url_is_a_problem_naming_the_key(bad: object) -> None:
    space = {"write_key_env": "K", "endpoint": bad}
    settings, problems = parse_settings({"profile_spaces": {"default": space}}, "analytics")
    assert "default" not in settings.profile_spaces
    assert [p.key for p in problems] == ["vars.segment_profiles.profile_spaces.default.endpoint"]
    assert "http://" in problems[0].message


def space_problems(space: dict) -> tuple[dict, list[str]]:
    settings, problems = parse_settings({"profile_spaces": {"default": space}}, "analytics")
    return settings.profile_spaces, [str(p) for p in problems]


def test_a_public_api_token_and_a_source_name_the_space_and_pick_the_regions_public_api() -> None:
    spaces, problems = space_problems(
        {"public_api_token_env": "SEGMENT_PUBLIC_API_TOKEN", "source": " Production Space "}
    )
    assert problems == []
    space = spaces["default"]
    assert (space.write_key_env, space.public_api_token_env, space.source) == (
        None,
        "SEGMENT_PUBLIC_API_TOKEN",
        "Production Space",
    )
    assert space.public_api_url == "https://api.segmentapis.com"
    assert space.key_variable == "SEGMENT_PUBLIC_API_TOKEN"
    spaces, _ = space_problems({"public_api_token_env": "T", "source": "S", "region": "eu"})
    assert spaces["default"].public_api_url == "https://eu1.api.segmentapis.com"
    assert spaces["default"].batch_url == "https://events.eu1.segmentapis.com/v1/batch"
    spaces, _ = space_problems(
        {"public_api_token_env": "T", "source": "S", "public_api_endpoint": "http://h:1/"}
    )
    assert spaces["default"].public_api_url == "http://h:1"


@pytest.mark.parametrize(
    ("space", "problem"),
    [
        (
            {"write_key_env": "K", "public_api_token_env": "T", "source": "S"},
            "public_api_token_env and write_key_env are both set",
        ),
        ({"public_api_token_env": "T"}, "source is missing"),
        ({"public_api_token_env": "T", "source": "  "}, "source is missing"),
        ({"write_key_env": "K", "source": "S"}, "source only applies with public_api_token_env"),
        (
            {"write_key_env": "K", "public_api_endpoint": "http://h"},
            "public_api_endpoint only applies with public_api_token_env",
        ),
        (
            {"public_api_token_env": "T", "source": "S", "public_api_endpoint": "h:1"},
            "public_api_endpoint 'h:1' must be an http:// or https:// URL",
        ),
        ({}, "write_key_env is missing"),
    ],
)
def test_a_space_has_exactly_one_way_to_its_write_key(space: dict, problem: str) -> None:
    spaces, problems = space_problems(space)
    assert spaces == {}
    assert len(problems) == 1 and problem in problems[0], problems
