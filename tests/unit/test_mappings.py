"""Config validation: every problem is found, named by model, mapping and key, before sending."""

from __future__ import annotations

from typing import Any

import pytest

from dbt_segment_profiles.mappings import (
    Mapping,
    Source,
    check_columns,
    check_write_keys,
    load_mappings,
)
from dbt_segment_profiles.settings import parse_settings


def manifest(*models: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "nodes": {
            f"model.proj.{name}": {
                "resource_type": "model",
                "name": name,
                "unique_id": f"model.proj.{name}",
                "relation_name": f'"db"."main"."{name}"',
                "config": {"meta": {"segment": segment}},
                "tags": ["nightly"],
            }
            for name, segment in models
        }
    }


SETTINGS, _ = parse_settings(
    {"profile_spaces": {"default": {"write_key_env": "SEGMENT_WRITE_KEY"}}}, "analytics"
)


def identify(name: str = "users", **overrides: Any) -> dict[str, Any]:
    mapping = {
        "name": name,
        "action": "identify",
        "profile_space": "default",
        "fields": {"user_id": "id", "traits": {"email": "email"}},
    }
    mapping.update(overrides)
    return mapping


def problems_of(*models: tuple[str, dict[str, Any]]) -> list[str]:
    return [str(p) for p in load_mappings(manifest(*models), SETTINGS).problems]


def test_valid_mapping_parses_with_default_send_and_sorted_columns() -> None:
    result = load_mappings(
        manifest(("dim_users", {"primary_key": "id", "mappings": [identify()]})), SETTINGS
    )
    assert result.problems == []
    (mapping,) = result.mappings
    assert mapping.send == frozenset({"added", "updated"})
    assert mapping.columns == ("email", "id")
    assert mapping.fields["user_id"] == Source(column="id")
    assert mapping.tags == ("nightly",)


def test_unknown_action_is_named() -> None:
    assert problems_of(("m", {"primary_key": "id", "mappings": [identify(action="page")]})) == [
        "model m, mapping users: action unknown action 'page'; expected one of identify, "
        "group, track, subscriptions"
    ]


def test_field_unknown_to_the_action_is_named() -> None:
    mapping = identify(fields={"user_id": "id", "event_name": {"value": "x"}})
    assert problems_of(("m", {"primary_key": "id", "mappings": [mapping]})) == [
        "model m, mapping users: fields.event_name is not a field of identify; expected one of "
        "user_id, anonymous_id, timestamp, message_id, consent, group_id, traits"
    ]


@pytest.mark.parametrize(("action", "field"), [("track", "event_name"), ("group", "group_id")])
def test_missing_required_field_is_named(action: str, field: str) -> None:
    mapping = identify(action=action, fields={"user_id": "id"})
    assert problems_of(("m", {"primary_key": "id", "mappings": [mapping]})) == [
        f"model m, mapping users: fields.{field} is required for {action}"
    ]


def test_missing_primary_key_is_named() -> None:
    assert problems_of(("m", {"mappings": [identify()]})) == [
        "model m: primary_key is missing: name the column that identifies a record"
    ]


def test_unknown_profile_space_is_named_with_the_known_ones() -> None:
    mapping = identify(profile_space="europe")
    assert problems_of(("m", {"primary_key": "id", "mappings": [mapping]})) == [
        "model m, mapping users: profile_space unknown profile space 'europe'; defined in "
        "vars.segment_profiles.profile_spaces: default"
    ]


def test_unset_write_key_variable_is_named_without_a_value() -> None:
    result = load_mappings(
        manifest(("m", {"primary_key": "id", "mappings": [identify()]})), SETTINGS
    )
    problems = check_write_keys(result.mappings, SETTINGS, environ={})
    assert [str(p) for p in problems] == [
        "model m, mapping users: profile_space environment variable SEGMENT_WRITE_KEY (write key "
        "of profile space 'default') is not set"
    ]
    assert check_write_keys(result.mappings, SETTINGS, environ={"SEGMENT_WRITE_KEY": "k"}) == []


def test_unset_public_api_token_variable_is_named_like_the_write_keys() -> None:
    settings, _ = parse_settings(
        {"profile_spaces": {"default": {"public_api_token_env": "TOKEN", "source": "Prod"}}}, "s"
    )
    result = load_mappings(
        manifest(("m", {"primary_key": "id", "mappings": [identify()]})), settings
    )
    problems = check_write_keys(result.mappings, settings, environ={"SEGMENT_WRITE_KEY": "k"})
    assert [str(p) for p in problems] == [
        "model m, mapping users: profile_space environment variable TOKEN (Public API token of "
        "profile space 'default') is not set"
    ]
    assert check_write_keys(result.mappings, settings, environ={"TOKEN": "t"}) == []


def test_duplicate_mapping_names_across_models_are_named() -> None:
    problems = problems_of(
        ("a", {"primary_key": "id", "mappings": [identify()]}),
        ("b", {"primary_key": "id", "mappings": [identify()]}),
    )
    assert problems == [
        "model b, mapping users: name duplicate mapping name; also used by model a"
    ]


def test_more_than_fifty_mappings_in_a_profile_space_is_refused() -> None:
    mappings = [identify(name=f"m{i}") for i in range(51)]
    assert problems_of(("m", {"primary_key": "id", "mappings": mappings})) == [
        "model m, mapping m50: profile_space profile space 'default' has 51 mappings; Segment "
        "allows at most 50 per destination"
    ]
    assert problems_of(("m", {"primary_key": "id", "mappings": mappings[:50]})) == []


def test_mapped_columns_missing_from_the_model_are_named() -> None:
    result = load_mappings(
        manifest(("m", {"primary_key": "id", "mappings": [identify()]})), SETTINGS
    )
    (mapping,) = result.mappings
    assert isinstance(mapping, Mapping)
    assert [str(p) for p in check_columns(mapping, ["ID", "name"])] == [
        "model m, mapping users: fields column 'email' is not in model m"
    ]


def test_bad_name_send_and_field_shapes_are_all_reported_together() -> None:
    mapping = identify(name="Users!", send=["added", "removed"], fields={"user_id": 42})
    assert problems_of(("m", {"primary_key": "id", "mappings": [mapping]})) == [
        "model m, mapping Users!: name 'Users!' must match [a-z][a-z0-9_]*",
        "model m, mapping Users!: send unknown operation 'removed'; expected any of added, "
        "updated, deleted",
        "model m, mapping Users!: fields.user_id 42 must be a column name or {value: <constant>}",
    ]


def test_settings_problems_name_the_var_key() -> None:
    _, problems = parse_settings(
        {"profile_spaces": {"eu": {"write_key_env": "K", "region": "asia"}, "x": {}}}, "s"
    )
    assert [str(p) for p in problems] == [
        "vars.segment_profiles.profile_spaces.eu.region unknown region 'asia'; expected us or eu",
        "vars.segment_profiles.profile_spaces.x.write_key_env is missing: name the environment "
        "variable (or use public_api_token_env with source)",
    ]


def test_region_and_endpoint_choose_the_batch_url() -> None:
    settings, problems = parse_settings(
        {
            "profile_spaces": {
                "us": {"write_key_env": "A"},
                "eu": {"write_key_env": "B", "region": "eu"},
                "local": {"write_key_env": "C", "endpoint": "http://127.0.0.1:9/"},
            }
        },
        "s",
    )
    assert problems == []
    assert settings.schema == "s_segment"
    assert settings.profile_spaces["us"].batch_url == "https://api.segment.io/v1/batch"
    assert settings.profile_spaces["eu"].batch_url == "https://events.eu1.segmentapis.com/v1/batch"
    assert settings.profile_spaces["local"].batch_url == "http://127.0.0.1:9/v1/batch"
