"""DuckDB's messages are the Python builder's: same JSON for every row it does not flag."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from dbt_segment_profiles.messages import Rejection, compile_mapping, compile_plan
from dbt_segment_profiles.messages.sql_lane import SqlLane, lane_for
from segment_testing import duckdb_warehouse, insert_rows, mapping_of


def sql_lane(warehouse: Any, mapping: Any) -> SqlLane | None:
    """The lane the sync uses: the mapping's plan over the pending table's column types."""
    types = warehouse.column_types(warehouse.mapping_table(mapping, "pending"))
    return lane_for(compile_plan(mapping, types), warehouse.message_dialect)


# a flagged row's last three columns: message, reason, needs Python
LANE_TAIL = (None, None, True)


TABLE = """
create table s.m__pending (
    __sp_seq bigint, __sp_op varchar, __sp_key varchar, __sp_hash varchar, __sp_version bigint,
    id bigint, name varchar, email varchar, n integer, big ubigint, ratio double, f float,
    ok boolean, day date, "at" timestamp, at_tz timestamptz, anon varchar
)
"""

STRINGS = ["", "a", "Zoë 😀 東京", 'quote " and \\ backslash', "tab\tnew\nline", "\x01ctl", "'"]
DOUBLES = [0.0, -0.0, 1.5, 0.1, 1e300, -2.5e-10, float("nan"), float("inf"), 123456789.125]


def random_row(rng: random.Random, seq: int) -> tuple[Any, ...]:
    def maybe(value: Any) -> Any:
        return None if rng.random() < 0.15 else value

    at = datetime(1999, 12, 31, 23, 59, 59, 999999) + timedelta(seconds=rng.randint(0, 10**9))
    return (
        seq,
        rng.choice(["added", "updated", "deleted"]),
        str(seq),
        f"h{rng.random()}",
        rng.randint(1, 5),
        maybe(rng.randint(-(2**62), 2**62)),
        maybe(rng.choice(STRINGS)),
        maybe(rng.choice(STRINGS) + "@example.com"),
        maybe(rng.randint(-1000, 1000)),
        maybe(rng.randint(0, 2**64 - 1)),
        maybe(rng.choice(DOUBLES)),
        maybe(rng.choice([0.1, 3.25, -1.0])),
        maybe(rng.random() < 0.5),
        maybe(date(2024, 2, 29) + timedelta(days=rng.randint(-5000, 5000))),
        maybe(at),
        maybe(at.replace(tzinfo=timezone(timedelta(hours=rng.randint(-12, 12))))),
        maybe(rng.choice(STRINGS)),
    )


MAPPINGS = {
    "identify": {
        "action": "identify",
        "fields": {
            "user_id": "id",
            "anonymous_id": "anon",
            "group_id": "name",
            "timestamp": "at_tz",
            "traits": {
                "name": "name",
                "email": "email",
                "n": "n",
                "big": "big",
                "ratio": "ratio",
                "f": "f",
                "ok": "ok",
                "day": "day",
                "at": "at",
                "at_tz": "at_tz",
                "plan": {"value": "pro"},
                "score": {"value": 1.5},
            },
        },
    },
    "group": {
        "action": "group",
        "fields": {"user_id": "email", "group_id": "id", "traits": ["name", "ok"]},
    },
    "track": {
        "action": "track",
        "fields": {
            "anonymous_id": "anon",
            "user_id": "id",
            "event_name": "name",
            "timestamp": "day",
            "properties": ["ratio", "at"],
        },
    },
    "track_constant_event": {
        "action": "track",
        "fields": {"user_id": "id", "event_name": {"value": "Signed Up"}},
    },
}


@pytest.mark.parametrize("name", sorted(MAPPINGS))
def test_sql_built_messages_equal_the_builders(name: str, tmp_path: Path) -> None:
    raw = {"name": "m", "profile_space": "default", **MAPPINGS[name]}
    mapping = mapping_of(raw)
    warehouse = duckdb_warehouse(tmp_path / "w.duckdb", "s")
    warehouse.execute("create schema s")
    warehouse.execute(TABLE)
    warehouse.execute(
        "create table s.m__acks (record_key varchar, row_hash varchar, operation varchar, "
        "change_version bigint, acked_at timestamp)"
    )
    rng = random.Random(name)
    rows = [random_row(rng, seq) for seq in range(1, 3001)]
    with warehouse.transaction() as cur:
        insert_rows(cur, "s.m__pending", rows)

    lane = sql_lane(warehouse, mapping)
    assert lane is not None
    full_rows = {row[0]: row for chunk in warehouse.stream_pending(mapping, 500) for row in chunk}
    stream = warehouse.stream_pending(mapping, 500, lane)
    builder = compile_mapping(mapping, stream.columns)
    compared = flagged = rejected = 0
    for chunk in stream:
        for row in chunk:
            full = (*full_rows[row[0]], *LANE_TAIL)
            expected = builder.build(full, row[1], row[2], row[3], row[4])
            if row[-1]:
                # a flagged row carries its mapped columns, for the builder, and no message
                assert repr(row[:-3]) == repr(full_rows[row[0]])
                assert row[-3] is None, row
                flagged += 1
                continue
            if row[-2] is not None:
                # rejected in SQL: with the builder's own reason, and no message text
                assert expected == Rejection(row[-2]), (row, expected)
                assert row[-3] is None, row
                rejected += 1
                continue
            assert not isinstance(expected, Rejection), (row, expected)
            got = row[-3]
            assert orjson.loads(got) == orjson.loads(expected), row
            compared += 1
    warehouse.close()
    assert compared > 1000
    # rows without any user id (rejected in SQL now) and NaN or infinite doubles (flagged)
    assert flagged + rejected > 0 or name == "track_constant_event"


EXACT_TABLE = """
create table s.m__pending (
    __sp_seq bigint, __sp_op varchar, __sp_key varchar, __sp_hash varchar, __sp_version bigint,
    id hugeint, amount decimal(20, 12), price decimal(10, 2), wide decimal(38, 8),
    whole decimal(18, 0), big hugeint, ubig uhugeint, name varchar, ratio double, "at" timestamp
)
"""

EXACT_VALUES = {
    "id": [2**127 - 1, -(2**127), 0, 12],
    "amount": [
        Decimal("12345678.123456789012"),
        Decimal("0E-12"),
        Decimal("-99999999.999999999999"),
        Decimal("0.000000000001"),
    ],
    "price": [Decimal("12.50"), Decimal("-0.50"), Decimal("5.00"), Decimal("0.00")],
    "wide": [Decimal("123456789012345678901234567890.12345678"), Decimal("-1.00000001")],
    "whole": [Decimal("999999999999999999"), Decimal("0"), Decimal("-7")],
    "big": [2**127 - 1, -(2**127), 2**64, -(2**63) - 1, 0],
    "ubig": [2**128 - 1, 2**64, 0],
    "name": STRINGS,
    # doubles whose text DuckDB and orjson agree on (1e300 is 1e+300 in DuckDB, the same number);
    # test_sql_built_messages_equal_the_builders compares doubles by value
    "ratio": [0.1, -2.5e-10, 123456789.125, -0.0],
    "at": [datetime(2024, 2, 29, 23, 59, 59, 999999), datetime(1999, 1, 1)],
}


def exact_row(rng: random.Random, seq: int) -> tuple[Any, ...]:
    values = [
        None if rng.random() < 0.15 else rng.choice(choices) for choices in EXACT_VALUES.values()
    ]
    if values[0] is None:
        values[0] = seq
    op = rng.choice(["added", "updated", "deleted"])
    return (seq, op, str(seq), f"h{seq}", 1, *values)


@pytest.mark.parametrize("action", ["identify", "track"])
def test_sql_lane_sends_decimals_and_wide_integers_with_the_builders_exact_bytes(
    action: str, tmp_path: Path
) -> None:
    body = {
        "amount": "amount",
        "price": "price",
        "wide": "wide",
        "whole": "whole",
        "big": "big",
        "ubig": "ubig",
        "name": "name",
        "ratio": "ratio",
        "at": "at",
        "huge_constant": {"value": 2**100},
        "plan": {"value": "pro"},
    }
    fields: dict[str, Any] = {"user_id": "id"}
    if action == "track":
        fields |= {"event_name": {"value": "Invoice Paid"}, "properties": body}
    else:
        fields |= {"traits": body}
    raw = {"name": "m", "profile_space": "default", "action": action, "fields": fields}
    mapping = mapping_of(raw)
    warehouse = duckdb_warehouse(tmp_path / "w.duckdb", "s")
    warehouse.execute("create schema s")
    warehouse.execute(EXACT_TABLE)
    warehouse.execute(
        "create table s.m__acks (record_key varchar, row_hash varchar, operation varchar, "
        "change_version bigint, acked_at timestamp)"
    )
    rng = random.Random(action)
    rows = [exact_row(rng, seq) for seq in range(1, 501)]
    with warehouse.transaction() as cur:
        insert_rows(cur, "s.m__pending", rows)

    lane = sql_lane(warehouse, mapping)
    assert lane is not None, "DECIMAL and HUGEINT columns stay in the SQL lane"
    full_rows = {row[0]: row for chunk in warehouse.stream_pending(mapping, 100) for row in chunk}
    stream = warehouse.stream_pending(mapping, 100, lane)
    builder = compile_mapping(mapping, stream.columns)
    compared = 0
    for chunk in stream:
        for row in chunk:
            assert not row[-1], row  # nothing here needs Python
            expected = builder.build((*full_rows[row[0]], *LANE_TAIL), *row[1:5])
            assert isinstance(expected, bytes), expected
            got = row[-3]
            assert got == expected
            compared += 1
    warehouse.close()
    assert compared == len(rows)
