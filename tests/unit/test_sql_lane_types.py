"""The SQL lane writes every action and column type byte for byte as the Python builder does,
and rejects in SQL only with the builder's own reason; rows it cannot render go to the builder."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dbt_segment_profiles.messages import Rejection, compile_mapping, compile_plan
from dbt_segment_profiles.messages.sql_lane import lane_for
from segment_testing import duckdb_warehouse, insert_rows, mapping_of

INTERNAL = "__sp_seq bigint, __sp_op varchar, __sp_key varchar, __sp_hash varchar, "
INTERNAL += "__sp_version bigint"
STRINGS = ["", "a", "Zoë 😀 東京", 'quote " and \\ backslash', "tab\tnew\nline", "\x01ctl", "'"]


@dataclass
class Counts:
    compared: int = 0  # messages written by the lane, equal to the builder's bytes
    rejected: int = 0  # rejected in SQL with the builder's reason
    flagged: int = 0  # left to the builder


def compare_lane(
    tmp_path: Path,
    columns: str,
    rows: list[tuple[Any, ...]],
    raw: dict[str, Any],
    time_zone: str | None = None,
    name: str = "m",
) -> Counts:
    """Every row through the lane and through the builder: the same bytes, or the same reason."""
    mapping = mapping_of({"name": name, "profile_space": "default", **raw})
    warehouse = duckdb_warehouse(tmp_path / "w.duckdb", "s")
    pending = warehouse.mapping_table(mapping, "pending")
    try:
        warehouse.execute("create schema s")
        warehouse.execute(f"create table {pending} ({INTERNAL}, {columns})")
        warehouse.execute(
            f"create table {warehouse.mapping_table(mapping, 'acks')} (record_key varchar, "
            "row_hash varchar, operation varchar, change_version bigint, acked_at timestamp)"
        )
        with warehouse.transaction() as cur:
            if time_zone is not None:
                cur.execute(f"set global TimeZone = '{time_zone}'")
            insert_rows(cur, pending, rows)
        types = warehouse.column_types(warehouse.mapping_table(mapping, "pending"))
        lane = lane_for(compile_plan(mapping, types), warehouse.message_dialect)
        assert lane is not None, types
        full = {row[0]: row for chunk in warehouse.stream_pending(mapping, 700) for row in chunk}
        stream = warehouse.stream_pending(mapping, 700, lane)
        builder = compile_mapping(mapping, stream.columns)
        counts = Counts()
        for chunk in stream:
            for row in chunk:
                expected = builder.build((*full[row[0]], None, None, True), *row[1:5])
                if row[-1]:
                    assert repr(row[:-3]) == repr(full[row[0]])
                    counts.flagged += 1
                elif row[-2] is not None:
                    assert expected == Rejection(row[-2]), (full[row[0]], expected)
                    counts.rejected += 1
                else:
                    got = row[-3]
                    assert got == expected, (full[row[0]], got, expected)
                    counts.compared += 1
        assert counts.compared + counts.rejected + counts.flagged == len(rows)
        return counts
    finally:
        warehouse.close()


# -- messageIds ---------------------------------------------------------------------------------

# keys with the messageId's separator, quotes, a backslash, non-ASCII, spaces, or empty
ODD_KEYS = ["k\x1f2", "Zoë 😀 東京", "quote ' and \" \\", "", " lead", "1", "\t"]


def odd_key_rows() -> list[tuple[Any, ...]]:
    """Each odd key as an added, an updated and a deleted change (a delete has no hash)."""
    rows: list[tuple[Any, ...]] = []
    for key in ODD_KEYS:
        for op, row_hash, version in (
            ("added", "h1", 1),
            ("updated", "h2", 2**40),
            ("deleted", None, 3),
        ):
            rows.append((len(rows) + 1, op, key, row_hash, version, key, f"u{len(rows)}"))
    return rows


def test_the_lane_derives_each_messageid_as_the_runner(tmp_path: Path) -> None:
    """The warehouse's messageId is the runner's, byte for byte, for odd keys."""
    raw = {"action": "identify", "fields": {"user_id": "user_id"}}
    rows = odd_key_rows()
    counts = compare_lane(tmp_path, "id varchar, user_id varchar", rows, raw, name="odd_keys")
    assert counts == Counts(compared=len(rows))


# -- column types: DECIMAL, DATE, TIMESTAMP(TZ), STRUCT, LIST ---------------------------------

TYPED_COLUMNS = """
    id bigint, name varchar, anon varchar, price decimal(10, 2), amount decimal(38, 10),
    tiny decimal(4, 4), whole decimal(18, 0), day date, "at" timestamp, at_tz timestamptz,
    tags varchar[], nums bigint[], info struct(a integer, "b c" varchar, d boolean[],
    e struct(f varchar)), big ubigint
"""
AT = [
    datetime(1969, 12, 31, 23, 59, 59, 999999),
    datetime(1900, 1, 1, 0, 0, 0, 1000),
    datetime(1970, 1, 1),
    datetime(2024, 2, 29, 23, 59, 59, 999999),
    datetime(2038, 1, 19, 3, 14, 8, 123456),
]
TYPED_VALUES: dict[str, list[Any]] = {
    "name": STRINGS,
    "anon": ["", "anon-1", "Zoë"],
    "price": [Decimal("12.50"), Decimal("-0.50"), Decimal("0.00"), Decimal("99999999.99")],
    "amount": [
        Decimal("1234567890123456789012345678.1234567890"),
        Decimal("-0.0000000001"),
        Decimal("0E-10"),
        Decimal("1.5000000000"),
    ],
    "tiny": [Decimal("0.0001"), Decimal("-0.9999"), Decimal("0.0000")],
    "whole": [Decimal("999999999999999999"), Decimal("-7"), Decimal("0")],
    "day": [date(1969, 12, 31), date(1, 1, 1), date(2024, 2, 29), date(9999, 12, 31)],
    "at": AT,
    "at_tz": [
        at.replace(tzinfo=timezone(timedelta(hours=h, minutes=m)))
        for at in AT[2:]
        for h, m in ((0, 0), (5, 45), (-9, -30), (14, 0))
    ],
    "tags": [[], ["a", "Zoë 😀", 'q"uote'], [None, ""], ["\x01", "tab\t"]],
    "nums": [[], [1, -(2**63), 2**63 - 1], [None]],
    "info": [
        {"a": 1, "b c": "x", "d": [True, None], "e": {"f": "é"}},
        {"a": None, "b c": None, "d": None, "e": None},
        {"a": -5, "b c": 'say "hi"\n', "d": [], "e": {"f": None}},
    ],
    "big": [0, 2**64 - 1, 2**63],
}


def typed_row(rng: random.Random, seq: int) -> tuple[Any, ...]:
    values = [
        None if rng.random() < 0.12 else rng.choice(choices) for choices in TYPED_VALUES.values()
    ]
    user_id = None if rng.random() < 0.05 else seq
    op = rng.choice(["added", "updated", "deleted"])
    return (seq, op, str(seq), f"h{seq}", rng.randint(0, 3), user_id, *values)


TYPED_BODY = {
    "price": "price",
    "amount": "amount",
    "tiny": "tiny",
    "whole": "whole",
    "day": "day",
    "at": "at",
    "at_tz": "at_tz",
    "tags": "tags",
    "nums": "nums",
    "info": "info",
    "big": "big",
    "name": "name",
    "plan": {"value": "pro"},
    "limit": {"value": 12.5},
}
TYPED_MAPPINGS: dict[str, dict[str, Any]] = {
    "identify": {
        "action": "identify",
        "fields": {
            "user_id": "id",
            "anonymous_id": "anon",
            "group_id": "name",
            "timestamp": "at_tz",
            "traits": TYPED_BODY,
        },
    },
    "group": {
        "action": "group",
        "fields": {"user_id": "id", "group_id": "name", "timestamp": "day", "traits": TYPED_BODY},
    },
    "track": {
        "action": "track",
        "fields": {
            "user_id": "id",
            "anonymous_id": "anon",
            "event_name": "name",
            "group_id": "anon",
            "timestamp": "at",
            "properties": TYPED_BODY,
        },
    },
    "track_constant_event": {
        "action": "track",
        "fields": {
            "anonymous_id": "anon",
            "event_name": {"value": "Order Placed"},
            "properties": ["price", "info", "tags"],
        },
    },
}


@pytest.mark.parametrize("time_zone", [None, "Asia/Kathmandu"])
@pytest.mark.parametrize("name", sorted(TYPED_MAPPINGS))
def test_lane_writes_every_column_type_as_the_builder(
    name: str, time_zone: str | None, tmp_path: Path
) -> None:
    rng = random.Random(f"{name}{time_zone}")
    rows = [typed_row(rng, seq) for seq in range(1, 1501)]
    counts = compare_lane(tmp_path, TYPED_COLUMNS, rows, TYPED_MAPPINGS[name], time_zone)
    assert counts.flagged == 0, "nothing here needs the Python builder"
    assert counts.compared > 600
    # no user id, or an empty or NULL required field: rejected in SQL with the builder's reason
    assert counts.rejected > 0


def test_lane_leaves_doubles_inside_a_struct_to_the_builder(tmp_path: Path) -> None:
    mapping = mapping_of(
        {
            "name": "m",
            "profile_space": "default",
            "action": "identify",
            "fields": {"user_id": "id", "traits": ["info"]},
        }
    )
    types = {"id": "BIGINT", "info": "STRUCT(x DOUBLE)"}
    assert lane_for(compile_plan(mapping, types), "duckdb") is None
    types = {"id": "BIGINT", "info": "STRUCT(x VARCHAR, y BIGINT[])"}
    assert lane_for(compile_plan(mapping, types), "duckdb") is not None


# -- subscriptions ------------------------------------------------------------------------------

SUBSCRIPTION_COLUMNS = """
    id bigint, anon varchar, email varchar, phone varchar, android varchar, ios varchar,
    email_status varchar, sms_status varchar, whatsapp_status boolean, android_status varchar,
    ios_status varchar, news varchar, promo boolean, name varchar, price decimal(10, 2),
    at_tz timestamptz
"""
GOOD_STATUSES = [
    "subscribed",
    " SUBSCRIBED ",
    "true",
    "False",
    "did-not-subscribe",
    "DID_NOT_SUBSCRIBE",
    "unsubscribed",
    "Did_Not_Subscribe",
]
ODD_STATUSES = [
    "",
    "   ",
    "MAYBE",
    "it's",
    'say "yes"',
    "back\\slash",
    "\tsubscribed",
    "Ünsubscribed",
    # lower() may make a non-ASCII letter an ASCII one (Turkish dotted I): only the builder
    # can tell whether it is a word it knows
    "SUBSCR\u0130BED",
    "subscri\x01bed",
    "x" * 100,
    "unsubscribed\n",
    "sub scribed",
    "\u00a0true",
]


def subscription_row(rng: random.Random, seq: int) -> tuple[Any, ...]:
    def status() -> str | None:
        roll = rng.random()
        if roll < 0.3:
            return None
        if roll < 0.93:
            return rng.choice(GOOD_STATUSES)
        return rng.choice(ODD_STATUSES)

    def ident(text: str) -> str | None:
        return rng.choice([None, "", text, text, text, "Zoë 😀 " + text, 'q"' + text])

    values = (
        None if rng.random() < 0.1 else seq,
        rng.choice([None, "", "anon"]),
        ident(f"user{seq}@example.com"),
        ident(f"+1555{seq:07d}"),
        ident(f"android-{seq}"),
        ident(f"ios-{seq}"),
        status(),
        status(),
        rng.choice([None, True, False]),
        status(),
        status(),
        status(),
        rng.choice([None, True, False]),
        rng.choice(STRINGS),
        rng.choice([None, Decimal("12.50"), Decimal("-0.01")]),
        rng.choice([None, datetime(1969, 7, 20, 20, 17, 40, tzinfo=timezone.utc)]),
    )
    return (seq, rng.choice(["added", "updated", "deleted"]), str(seq), f"h{seq}", 1, *values)


SUBSCRIPTION_MAPPINGS: dict[str, dict[str, Any]] = {
    "every_channel": {
        "action": "subscriptions",
        "fields": {
            "user_id": "id",
            "anonymous_id": "anon",
            "email": "email",
            "phone": "phone",
            "android_push_token": "android",
            "ios_push_token": "ios",
            "email_subscription_status": "email_status",
            "sms_subscription_status": "sms_status",
            "whatsapp_subscription_status": "whatsapp_status",
            "android_push_subscription_status": "android_status",
            "ios_push_subscription_status": "ios_status",
            "subscription_groups": {"news": "news", "promo": "promo"},
            "traits": {"name": "name", "price": "price"},
            "timestamp": "at_tz",
        },
    },
    "email_with_constants": {
        "action": "subscriptions",
        "fields": {
            "user_id": "id",
            "email": "email",
            "email_subscription_status": "email_status",
            "sms_subscription_status": {"value": "unsubscribed"},
            "phone": "phone",
            "subscription_groups": {"news": "news", "weekly digest": {"value": "true"}},
        },
    },
    "email_only": {
        "action": "subscriptions",
        "fields": {"user_id": "id", "email": "email", "email_subscription_status": "email_status"},
    },
}


@pytest.mark.parametrize("name", sorted(SUBSCRIPTION_MAPPINGS))
def test_lane_writes_subscriptions_as_the_builder(name: str, tmp_path: Path) -> None:
    rng = random.Random(name)
    rows = [subscription_row(rng, seq) for seq in range(1, 3001)]
    counts = compare_lane(tmp_path, SUBSCRIPTION_COLUMNS, rows, SUBSCRIPTION_MAPPINGS[name])
    assert counts.compared > 300
    assert counts.rejected > 300
    # non-ASCII or quoted statuses: judged by the builder
    assert counts.flagged > 0


def test_unknown_statuses_are_rejected_in_sql_with_the_builders_reason(tmp_path: Path) -> None:
    statuses = ["MAYBE", "x" * 100, "yes please", "1", "subscribed!", "INVALID"]
    rows = [
        (
            seq,
            "added",
            str(seq),
            "h",
            1,
            seq,
            None,
            f"u{seq}@example.com",
            None,
            None,
            None,
            statuses[seq % len(statuses)],
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        )
        for seq in range(1, 61)
    ]
    counts = compare_lane(
        tmp_path, SUBSCRIPTION_COLUMNS, rows, SUBSCRIPTION_MAPPINGS["email_only"]
    )
    assert counts == Counts(compared=0, rejected=60, flagged=0)


# -- JSON columns -------------------------------------------------------------------------------

JSON_TEXTS = [
    '{"a": 1.50, "b": [1, 2, -0], "c": "é/x", "d": null}',
    ' { "k" : true , "z": [null, false, 0.1, -2.5] } ',
    '{"x": "Zoë 😀 東京", "n": 18446744073709551615, "m": -9223372036854775808}',
    '"just a string"',
    "null",
    "[]",
    "{}",
    "[0.000123, 123456789.125, 1.0]",
    # for the builder: nested objects, escapes, exponents, duplicate keys, long numbers
    '{"a": {"b": 1}}',
    '["tab\\t", "\\u00e9"]',
    "1e5",
    '{"a": 1, "a": 2}',
    "123456789012345678901234567890",
    "[1E400]",
]


def json_row(rng: random.Random, seq: int) -> tuple[Any, ...]:
    doc = None if rng.random() < 0.1 else rng.choice(JSON_TEXTS)
    return (seq, "added", str(seq), f"h{seq}", 1, seq, doc, rng.choice(STRINGS))


@pytest.mark.parametrize("action", ["identify", "track"])
def test_lane_writes_json_columns_as_the_builder(action: str, tmp_path: Path) -> None:
    body = {"doc": "doc", "name": "name"}
    fields: dict[str, Any] = {"user_id": "id"}
    if action == "track":
        fields |= {"event_name": {"value": "Viewed"}, "properties": body}
    else:
        fields |= {"traits": body}
    rng = random.Random(action)
    rows = [json_row(rng, seq) for seq in range(1, 2001)]
    columns = "id bigint, doc json, name varchar"
    counts = compare_lane(tmp_path, columns, rows, {"action": action, "fields": fields})
    assert counts.compared > 1000
    assert counts.flagged > 200  # the texts json() would not write as orjson does
