"""Warehouse values that JSON can't express in golden files: dates, decimals, NaN, bytes, ..."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest

from dbt_segment_profiles.mappings import Mapping, ObjectSource, Source
from dbt_segment_profiles.messages import MessageBuilder, Rejection, compile_mapping
from dbt_segment_profiles.messages.values import to_id, to_json, to_timestamp

UTC_PLUS_2 = timezone(timedelta(hours=2))


def identify(**fields: Any) -> Mapping:
    return Mapping(
        name="values",
        action="identify",
        profile_space="default",
        send=frozenset({"added", "updated"}),
        fields={"user_id": Source(column="id"), **fields},
        primary_key="id",
        model_name="dim_values",
        model_id="model.test.dim_values",
        relation_name='"db"."main"."dim_values"',
    )


@pytest.fixture(scope="module")
def trait_builder() -> MessageBuilder:
    traits = ObjectSource(entries=(("v", Source(column="v")),))
    return compile_mapping(
        identify(traits=traits, timestamp=Source(column="ts")), ["id", "v", "ts"]
    )


def trait(builder: MessageBuilder, value: Any) -> Any:
    result = builder.build(["u1", value, None], "added", "u1", "h")
    assert isinstance(result, bytes), result
    return orjson.loads(result)["traits"]["v"]


def rejection(builder: MessageBuilder, value: Any, ts: Any = None) -> str:
    result = builder.build(["u1", value, ts], "added", "u1", "h")
    assert isinstance(result, Rejection), result
    return result.reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2024, 1, 2), "2024-01-02T00:00:00.000Z"),
        (datetime(2024, 1, 2, 3, 4, 5, 123456), "2024-01-02T03:04:05.123Z"),
        (datetime(2024, 1, 2, 1, 4, 5, 999999, tzinfo=UTC_PLUS_2), "2024-01-01T23:04:05.999Z"),
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "2024-01-02T03:04:05.000Z"),
        (time(3, 4, 5, 678901), "03:04:05.678"),
        (2**64 - 1, 2**64 - 1),
        (-(2**63), -(2**63)),
        (True, True),
        (False, False),
        (0, 0),
        (1.5, 1.5),
        ("", ""),
        (
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
            "12345678-1234-5678-1234-567812345678",
        ),
        (
            {"a": [1, {"b": date(2024, 1, 2)}], 3: None},
            {"a": [1, {"b": "2024-01-02T00:00:00.000Z"}], "3": None},
        ),
        ((1, "x", Decimal("2.5")), [1, "x", 2.5]),
        ({"d": Decimal("0.10"), "n": [2**70]}, {"d": 0.1, "n": [2**70]}),
        ([], []),
        ("😀 emoji, 中文, ελληνικά, \u0000 nul", "😀 emoji, 中文, ελληνικά, \u0000 nul"),
        ('{"json": "stays a string"}', '{"json": "stays a string"}'),
    ],
)
def test_trait_values(trait_builder: MessageBuilder, value: Any, expected: Any) -> None:
    got = trait(trait_builder, value)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("12345678.123456789012"), b"12345678.123456789012"),
        (Decimal("12.50"), b"12.50"),
        (Decimal("12"), b"12"),
        (Decimal("12.00"), b"12.00"),
        (Decimal("-0.000001"), b"-0.000001"),
        (Decimal("0E-12"), b"0.000000000000"),
        (Decimal("-0.50"), b"-0.50"),
        (Decimal("1E+3"), b"1000"),
        (Decimal("123456789012345678901234567890"), b"123456789012345678901234567890"),
        (Decimal("0.1234567890123456789"), b"0.1234567890123456789"),
        (Decimal("1E-400"), b"1E-400"),
        (Decimal("9.99E+307"), b"999" + b"0" * 305),
        (2**127 - 1, b"170141183460469231731687303715884105727"),
        (-(2**127), b"-170141183460469231731687303715884105728"),
        (2**64, b"18446744073709551616"),
        (-(2**63) - 1, b"-9223372036854775809"),
        (2**128 - 1, b"340282366920938463463374607431768211455"),
    ],
)
def test_decimals_and_wide_integers_go_out_with_their_exact_digits(
    trait_builder: MessageBuilder, value: Any, text: bytes
) -> None:
    data = trait_builder.build(["u1", value, None], "added", "u1", "h")
    assert isinstance(data, bytes), data
    assert b'"traits":{"v":' + text + b"}," in data
    # the digits are a JSON number, not a string
    assert orjson.loads(data)["traits"]["v"] == float(text)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (float("nan"), "column v has value NaN, which JSON cannot carry"),
        (float("inf"), "column v has value Infinity, which JSON cannot carry"),
        (float("-inf"), "column v has value -Infinity, which JSON cannot carry"),
        (Decimal("NaN"), "column v has value NaN, which JSON cannot carry"),
        (Decimal("-Infinity"), "column v has value -Infinity, which JSON cannot carry"),
        ({"a": [1, float("nan")]}, "column v has value NaN, which JSON cannot carry"),
        ([{"x": float("inf")}], "column v has value Infinity, which JSON cannot carry"),
        (
            Decimal("1E+400"),
            "column v has value Decimal('1E+400'), which is too large for a JSON number",
        ),
        (
            Decimal("1.8E+308"),
            "column v has value Decimal('1.8E+308'), which is too large for a JSON number",
        ),
        (b"\x00\x01", "binary column v cannot be sent"),
        (bytearray(b"x"), "binary column v cannot be sent"),
        ({1, 2}, "column v has value {1, 2} of type set, which cannot be sent"),
    ],
)
def test_values_json_cannot_carry_are_rejected(
    trait_builder: MessageBuilder, value: Any, reason: str
) -> None:
    assert rejection(trait_builder, value) == reason


@pytest.mark.parametrize(
    "value", [10**400, -(10**400), 10**5000, 2**1024], ids=["1e400", "-1e400", "1e5000", "2^1024"]
)
def test_integers_beyond_a_double_are_rejected(trait_builder: MessageBuilder, value: int) -> None:
    reason = rejection(trait_builder, value)
    assert reason.startswith("column v has value ")
    assert reason.endswith(", which is too large for a JSON number")
    assert len(reason) < 200


def test_interval_rejected_with_advice(trait_builder: MessageBuilder) -> None:
    assert rejection(trait_builder, timedelta(days=1)).startswith(
        "column v has value datetime.timedelta(days=1); intervals cannot be sent"
    )


def test_lone_surrogate_rejected_naming_the_column(trait_builder: MessageBuilder) -> None:
    reason = rejection(trait_builder, "bad \ud800 text")
    assert reason.startswith(
        "column v has value 'bad \\ud800 text', which cannot be encoded as JSON"
    )


def test_out_of_range_timestamp_rejected(trait_builder: MessageBuilder) -> None:
    early = datetime(1, 1, 1, 0, 30, tzinfo=UTC_PLUS_2)
    assert rejection(trait_builder, None, early).endswith("which is out of range in UTC")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2024, 1, 2), "2024-01-02T00:00:00.000Z"),
        (datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05.000Z"),
        (datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=UTC_PLUS_2), "2024-01-02T01:04:05.120Z"),
        ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05.000Z"),
        ("2024-01-02t03:04:05.5z", "2024-01-02T03:04:05.500Z"),
        ("2024-01-02 03:04:05-05:00", "2024-01-02T08:04:05.000Z"),
        ("2024-01-02", "2024-01-02T00:00:00.000Z"),
        ("", None),
        (None, None),
    ],
)
def test_timestamps(value: Any, expected: str | None) -> None:
    assert to_timestamp(value, "ts") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", "abc"),
        ("", None),
        (None, None),
        (42, "42"),
        (42.0, "42.0"),
        (Decimal("42"), "42"),
        (Decimal("4.20"), "4.20"),
        (date(2024, 1, 2), "2024-01-02T00:00:00.000Z"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
    ],
)
def test_ids_are_strings(value: Any, expected: str | None) -> None:
    assert to_id(value, "id", "user_id") == expected


def test_to_json_fast_path_returns_the_same_object() -> None:
    text = "x" * 10
    assert to_json(text, "c") is text
    assert to_json(None, "c") is None
