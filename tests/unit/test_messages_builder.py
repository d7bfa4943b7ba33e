"""compile_mapping and MessageBuilder: columns, constants, messageId, limits, and never raising."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbt_segment_profiles import __version__
from dbt_segment_profiles.mappings import FieldSource, Mapping, ObjectSource, Source
from dbt_segment_profiles.messages import MessageBuilder, Rejection, compile_mapping
from dbt_segment_profiles.messages.builder import message_id_for


def mapping(action: str, fields: dict[str, FieldSource], name: str = "m") -> Mapping:
    return Mapping(
        name=name,
        action=action,
        profile_space="default",
        send=frozenset({"added", "updated", "deleted"}),
        fields=fields,
        primary_key="id",
        model_name="dim",
        model_id="model.test.dim",
        relation_name='"db"."main"."dim"',
    )


def col(name: str) -> Source:
    return Source(column=name)


def entries(*names: str) -> ObjectSource:
    return ObjectSource(entries=tuple((n, col(n)) for n in names))


# --- compile_mapping ----------------------------------------------------------------------


def test_missing_column_raises_naming_it() -> None:
    m = mapping("identify", {"user_id": col("id"), "traits": entries("email", "plan")})
    with pytest.raises(ValueError, match="'plan'"):
        compile_mapping(m, ["id", "email"])


def test_columns_are_found_by_position_and_internal_columns_ignored() -> None:
    m = mapping("identify", {"user_id": col("id"), "traits": entries("email")})
    builder = compile_mapping(m, ["_op", "email", "_hash", "id"])
    data = builder.build(["added", "a@b.c", "x", "u1"], "added", "u1", "x")
    assert isinstance(data, bytes)
    assert orjson.loads(data)["userId"] == "u1"
    assert orjson.loads(data)["traits"] == {"email": "a@b.c"}


def test_column_names_match_case_insensitively_when_unambiguous() -> None:
    m = mapping("identify", {"user_id": col("id"), "traits": entries("email")})
    builder = compile_mapping(m, ["ID", "EMAIL"])
    data = builder.build(["u1", "a@b.c"], "added", "u1", "h")
    assert isinstance(data, bytes) and orjson.loads(data)["traits"] == {"email": "a@b.c"}
    with pytest.raises(ValueError, match="'email'"):
        compile_mapping(m, ["id", "EMAIL", "Email"])


@pytest.mark.parametrize(
    ("action", "fields", "match"),
    [
        ("identify", {"user_id": col("id"), "message_id": Source(constant="x")}, "message_id"),
        (
            "identify",
            {
                "user_id": col("id"),
                "traits": ObjectSource(entries=(("score", Source(constant=float("nan"))),)),
            },
            "NaN",
        ),
        ("group", {"user_id": col("id"), "group_id": Source(constant="")}, "group_id"),
        ("track", {"user_id": col("id"), "event_name": Source(constant=None)}, "event_name"),
        ("identify", {"user_id": col("id"), "timestamp": Source(constant="soon")}, "soon"),
        (
            "subscriptions",
            {
                "user_id": col("id"),
                "email": col("e"),
                "email_subscription_status": Source(constant="maybe"),
            },
            "maybe",
        ),
    ],
)
def test_bad_constants_fail_at_compile_time(
    action: str, fields: dict[str, FieldSource], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        compile_mapping(mapping(action, fields), ["id", "e"])


# --- messageId ----------------------------------------------------------------------------


def identify_builder(name: str = "m") -> MessageBuilder:
    return compile_mapping(mapping("identify", {"user_id": col("id")}, name), ["id"])


def message_id(
    builder: MessageBuilder, key: str, row_hash: str | None, op: str, version: int = 1
) -> str:
    data = builder.build([key], op, key, row_hash, version)
    assert isinstance(data, bytes)
    return orjson.loads(data)["messageId"]


def test_message_id_is_deterministic_and_short() -> None:
    builder = identify_builder()
    first = message_id(builder, "k1", "h1", "added")
    assert first == message_id(identify_builder(), "k1", "h1", "added")
    assert len(first) < 100
    assert first == message_id_for("m", "k1", "h1", "added", 1)
    # Pinned: changing the derivation would defeat Segment's de-duplication across an upgrade
    # (a change resent after it gets another messageId). MD5, so that warehouses derive it too.
    digest = hashlib.md5(b"m\x1fadded\x1fh1\x1f1\x1fk1").hexdigest()
    assert first == "sp-" + digest


def test_message_id_differs_by_change_version_even_for_the_same_value() -> None:
    # A -> B -> A -> B: the second B is a new change and must not be dropped by Segment
    first_b = message_id(identify_builder(), "k1", "hB", "updated", 2)
    second_b = message_id(identify_builder(), "k1", "hB", "updated", 4)
    assert first_b != second_b
    assert first_b == message_id(identify_builder(), "k1", "hB", "updated", 2)


def test_message_id_differs_by_operation_hash_key_and_mapping() -> None:
    base = message_id(identify_builder(), "k1", "h1", "added")
    assert base != message_id(identify_builder(), "k1", "h1", "updated")
    assert base != message_id(identify_builder(), "k1", "h2", "added")
    assert base != message_id(identify_builder(), "k2", "h1", "added")
    assert base != message_id(identify_builder("other"), "k1", "h1", "added")
    assert message_id(identify_builder(), "k1", None, "deleted") == message_id_for(
        "m", "k1", None, "deleted", 1
    )


def test_message_id_is_the_same_in_another_process() -> None:
    code = (
        "from dbt_segment_profiles.messages.builder import message_id_for;"
        "print(message_id_for('m', 'k1', 'h1', 'added'))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == message_id_for("m", "k1", "h1", "added")


# --- limits -------------------------------------------------------------------------------


def test_message_size_limit_is_32768_bytes() -> None:
    builder = compile_mapping(
        mapping("identify", {"user_id": col("id"), "traits": entries("blob")}), ["id", "blob"]
    )
    small = builder.build(["u1", ""], "added", "u1", "h")
    assert isinstance(small, bytes)
    fits = "x" * (32768 - len(small))
    exact = builder.build(["u1", fits], "added", "u1", "h")
    assert isinstance(exact, bytes) and len(exact) == 32768
    over = builder.build(["u1", fits + "x"], "added", "u1", "h")
    assert over == Rejection("message is 32769 bytes; Segment accepts at most 32768")
    # Multi-byte characters count as bytes, not characters.
    emoji = builder.build(["u1", "😀" * 8200], "added", "u1", "h")
    assert isinstance(emoji, Rejection)
    assert re.fullmatch(r"message is \d+ bytes; Segment accepts at most 32768", emoji.reason)


@pytest.mark.parametrize("action", ["identify", "subscriptions"])
def test_300_traits_are_rejected(action: str) -> None:
    fields: dict[str, FieldSource] = {"user_id": col("id"), "traits": ObjectSource(column="t")}
    if action == "subscriptions":
        fields |= {"email": col("e"), "email_subscription_status": Source(constant="true")}
    builder = compile_mapping(mapping(action, fields), ["id", "t", "e"])
    ok = builder.build(["u1", {f"t{i}": i for i in range(299)}, "a@b.c"], "added", "u1", "h")
    assert isinstance(ok, bytes)
    rejected = builder.build(["u1", {f"t{i}": i for i in range(300)}, "a@b.c"], "added", "u", "h")
    assert rejected == Rejection(
        "300 traits; Segment Profiles rejects identify calls with 300 or more traits"
    )


def test_group_traits_are_not_limited_to_300() -> None:
    fields = {"user_id": col("id"), "group_id": col("g"), "traits": ObjectSource(column="t")}
    builder = compile_mapping(mapping("group", fields), ["id", "g", "t"])
    data = builder.build(["u1", "g1", {f"t{i}": i for i in range(300)}], "added", "g1", "h")
    assert isinstance(data, bytes)


def test_message_envelope() -> None:
    data = identify_builder().build(["u1"], "added", "u1", "h")
    assert isinstance(data, bytes)
    assert b" " not in data  # compact
    message = orjson.loads(data)
    assert message["integrations"] == {"All": False}
    assert message["context"] == {
        "library": {"name": "dbt-segment-profiles", "version": __version__}
    }


# --- property: build never raises ---------------------------------------------------------

COLUMNS = [
    "id",
    "anon",
    "gid",
    "event",
    "ts",
    "mid",
    "a",
    "b",
    "obj",
    "email",
    "status",
    "phone",
    "sms",
    "group_status",
    "token",
]
PROPERTY_MAPPINGS = {
    "identify": {
        "user_id": col("id"),
        "anonymous_id": col("anon"),
        "group_id": col("gid"),
        "traits": entries("a", "b"),
        "timestamp": col("ts"),
        "consent": ObjectSource(column="obj"),
    },
    "identify_object": {"user_id": col("id"), "traits": ObjectSource(column="obj")},
    "group": {
        "user_id": col("id"),
        "group_id": col("gid"),
        "traits": ObjectSource(column="obj"),
        "message_id": col("mid"),
    },
    "track": {
        "anonymous_id": col("anon"),
        "event_name": col("event"),
        "group_id": col("gid"),
        "properties": entries("a", "b", "obj"),
        "timestamp": col("ts"),
    },
    "subscriptions": {
        "user_id": col("id"),
        "email": col("email"),
        "email_subscription_status": col("status"),
        "phone": col("phone"),
        "sms_subscription_status": col("sms"),
        "ios_push_token": col("token"),
        "ios_push_subscription_status": col("sms"),
        "subscription_groups": ObjectSource(entries=(("news", col("group_status")),)),
        "traits": entries("a", "b"),
    },
}
STATUSES = {"SUBSCRIBED", "UNSUBSCRIBED", "DID_NOT_SUBSCRIBE"}

timezones = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(),
    st.text(st.characters(codec=None)),  # includes lone surrogates
    st.sampled_from(
        [
            "",
            " ",
            "subscribed",
            " TRUE ",
            "did-not-subscribe",
            "u1",
            "a@b.c",
            "2024-01-02T03:04:05Z",
            '{"a": 1}',
            "[1]",
            "x" * 40000,
        ]
    ),
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=timezones),
    st.binary(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


def column_values(column: str) -> st.SearchStrategy[Any]:
    """Anything at all, but often a plausible value, so that every action also succeeds."""
    if column in ("id", "anon", "gid", "event", "mid", "email", "phone", "token"):
        plausible = st.one_of(st.text(min_size=1, max_size=20), st.integers())
    elif column == "ts":
        plausible = st.one_of(st.dates(), st.datetimes(), st.datetimes(timezones=timezones))
    elif column in ("status", "sms", "group_status"):
        plausible = st.sampled_from(
            ["subscribed", " TRUE ", "false", "Did-Not-Subscribe", True, False, None, ""]
        )
    elif column == "obj":
        plausible = st.dictionaries(st.text(max_size=5), values, max_size=5)
    else:
        plausible = scalars
    return st.one_of(plausible, values)


rows = st.tuples(*(column_values(column) for column in COLUMNS))


def assert_valid(action: str, data: bytes) -> None:
    assert len(data) <= 32768
    message = orjson.loads(data)
    assert message["integrations"] == {"All": False}
    assert message["context"]["library"]["name"] == "dbt-segment-profiles"
    assert isinstance(message["messageId"], str) and 0 < len(message["messageId"]) < 100
    assert message.get("userId") or message.get("anonymousId")
    for key in ("userId", "anonymousId", "groupId"):
        assert key not in message or (isinstance(message[key], str) and message[key])
    if "timestamp" in message:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", message["timestamp"])
    if action == "track":
        assert message["type"] == "track" and isinstance(message["properties"], dict)
        assert isinstance(message["event"], str) and message["event"]
        assert "groupId" not in message
        return
    assert isinstance(message["traits"], dict)
    assert message["type"] == ("group" if action == "group" else "identify")
    if action == "group":
        assert message["groupId"]
    else:
        assert len(message["traits"]) < 300
    if action == "subscriptions":
        context = message["context"]
        assert context["messaging_subscriptions_retl"] is True
        assert context["messaging_subscriptions"] and context["externalIds"]
        for entry in context["messaging_subscriptions"]:
            assert entry["status"] in STATUSES and entry["key"]


@pytest.mark.parametrize("name", sorted(PROPERTY_MAPPINGS))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    row=rows,
    operation=st.sampled_from(["added", "updated", "deleted"]),
    key=st.text(),
    row_hash=st.one_of(st.none(), st.text()),
)
def test_build_never_raises(
    name: str, row: tuple[Any, ...], operation: str, key: str, row_hash: str | None
) -> None:
    m = mapping(name.split("_")[0], PROPERTY_MAPPINGS[name])
    result = compile_mapping(m, COLUMNS).build(row, operation, key, row_hash)
    if isinstance(result, Rejection):
        assert isinstance(result.reason, str) and result.reason
    else:
        assert isinstance(result, bytes)
        assert_valid(m.action, result)


@pytest.mark.parametrize(
    "value",
    [float("nan"), Decimal("NaN"), {"x": [float("inf")]}, b"\x00", "\udc80"],
    ids=["nan", "decimal-nan", "nested-inf", "bytes", "surrogate"],
)
def test_bad_values_anywhere_give_a_rejection_naming_the_column(value: Any) -> None:
    fields = {"user_id": col("id"), "traits": entries("a", "b")}
    builder = compile_mapping(mapping("identify", fields), ["id", "a", "b"])
    for row in (["u1", value, 1], ["u1", 1, value]):
        result = builder.build(row, "added", "u1", "h")
        assert isinstance(result, Rejection)
        assert ("column a" if row[1] is value else "column b") in result.reason


def test_mixed_realistic_row_sample() -> None:
    fields = {"user_id": col("id"), "traits": entries("d", "t", "n"), "timestamp": col("t")}
    builder = compile_mapping(mapping("identify", fields), ["id", "d", "t", "n"])
    row = [7, date(2020, 2, 29), datetime(2020, 2, 29, 23, 59, 59, 999999), Decimal("0.10")]
    data = builder.build(row, "updated", "7", "abc")
    assert isinstance(data, bytes)
    message = orjson.loads(data)
    assert message["userId"] == "7"
    assert message["timestamp"] == "2020-02-29T23:59:59.999Z"
    assert message["traits"] == {
        "d": "2020-02-29T00:00:00.000Z",
        "t": "2020-02-29T23:59:59.999Z",
        "n": 0.1,
    }


def test_a_deleted_row_gets_the_derived_message_id_when_message_id_is_mapped() -> None:
    fields = {"user_id": col("id"), "message_id": col("mid"), "traits": entries("email")}
    builder = compile_mapping(mapping("identify", fields), ["id", "mid", "email"])
    deleted = orjson.loads(builder.build(["7", None, None], "deleted", "7", "h1"))
    assert deleted["messageId"] == message_id_for("m", "7", "h1", "deleted")
    updated = builder.build(["7", None, "a@x.io"], "updated", "7", "h2")
    assert isinstance(updated, Rejection) and "message_id" in updated.reason
