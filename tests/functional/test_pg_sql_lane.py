"""Postgres' SQL lane writes every message byte for byte as the Python builder does, rejects in
SQL only with the builder's own reason, and leaves every value it cannot write exactly (NaN,
exponents, jsonb objects, arrays of other shapes, years past 9999...) to the builder.

Against a real Postgres (the suite's own server, --profile postgres): the rows go into a pending
table, then through `stream_pending` twice, with the lane and without it, as the sync reads them.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dbt_segment_profiles.messages import Rejection, compile_mapping, compile_plan
from dbt_segment_profiles.messages.sql_lane import lane_for
from segment_testing import mapping_of

pytestmark = pytest.mark.postgres_only

INTERNAL = "__sp_seq bigint, __sp_op varchar, __sp_key varchar, __sp_hash varchar, "
INTERNAL += "__sp_version bigint"
ACKS = (
    "record_key varchar, row_hash varchar, operation varchar, change_version bigint, "
    "acked_at timestamp"
)


def _duckdb_lane_tests() -> ModuleType:
    """The DuckDB lane tests' subscription rows and mappings, which Postgres reads too."""
    name = "pg_lane_shared_cases"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "unit" / "test_sql_lane_types.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@dataclass
class Counts:
    compared: int = 0  # messages written by the lane, equal to the builder's bytes
    rejected: int = 0  # rejected in SQL with the builder's reason
    flagged: int = 0  # left to the builder
    flagged_rows: list[int] = field(default_factory=list, compare=False)  # their __sp_seq


def postgres_warehouse(root: Path, server: Any, schema: str) -> Any:
    """The suite's Postgres opened as the runner opens a target's warehouse: through dbt."""
    from dbt_segment_profiles.project import locate
    from dbt_segment_profiles.warehouse import open_warehouse

    root.mkdir(exist_ok=True)
    (root / "dbt_project.yml").write_text(
        "name: warehouse_only\nversion: '1.0'\nprofile: warehouse_only\nconfig-version: 2\n"
    )
    target = {
        "type": "postgres",
        "host": server.host,
        "port": server.port,
        "user": server.user,
        "pass": server.password,
        "dbname": server.dbname,
        "schema": schema,
        "threads": 1,
    }
    profile = {"target": "dev", "outputs": {"dev": target}}
    (root / "profiles.yml").write_text(json.dumps({"warehouse_only": profile}))
    return open_warehouse(locate(root, root), schema)


_schemas = iter(range(1, 10_000))


def compare_lane(
    tmp_path: Path,
    server: Any,
    columns: str,
    rows: list[tuple[Any, ...]],
    raw: dict[str, Any],
    name: str = "m",
) -> Counts:
    """Every row through the lane and through the builder: the same bytes, or the same reason."""
    mapping = mapping_of({"name": name, "profile_space": "default", **raw})
    schema = f"lane_{next(_schemas)}_{tmp_path.name[-20:]}".lower()
    warehouse = postgres_warehouse(tmp_path / "project", server, schema)
    try:
        warehouse.execute(f'drop schema if exists "{schema}" cascade')
        warehouse.execute(f'create schema "{schema}"')
        warehouse.execute(
            f"create table {warehouse.mapping_table(mapping, 'pending')} ({INTERNAL}, {columns})"
        )
        warehouse.execute(f"create table {warehouse.mapping_table(mapping, 'acks')} ({ACKS})")
        with warehouse.transaction() as cur:
            marks = ", ".join(["%s"] * len(rows[0]))
            cur.executemany(
                f"insert into {warehouse.mapping_table(mapping, 'pending')} values ({marks})",
                rows,
            )
        types = warehouse.column_types(warehouse.mapping_table(mapping, "pending"))
        assert warehouse.message_dialect == "postgres"
        lane = lane_for(compile_plan(mapping, types), warehouse.message_dialect)
        assert lane is not None, types
        full = {row[0]: row for chunk in warehouse.stream_pending(mapping, 700) for row in chunk}
        stream = warehouse.stream_pending(mapping, 700, lane)
        builder = compile_mapping(mapping, stream.columns)
        # read to the end first: the stream's open cursor would block dropping the schema
        lane_rows = [row for chunk in stream for row in chunk]
        counts = Counts()
        for row in lane_rows:
            expected = builder.build((*full[row[0]], None, None, True), *row[1:5])
            if row[-1]:
                assert repr(row[:-3]) == repr(full[row[0]])
                counts.flagged += 1
                counts.flagged_rows.append(row[0])
            elif row[-2] is not None:
                assert expected == Rejection(row[-2]), (full[row[0]], expected)
                counts.rejected += 1
            else:
                got = row[-3].encode()  # Postgres hands the message over as text
                assert got == expected, (full[row[0]], got, expected)
                counts.compared += 1
        assert counts.compared + counts.rejected + counts.flagged == len(rows)
        return counts
    finally:
        try:
            warehouse.execute(f'drop schema if exists "{schema}" cascade')
        finally:
            warehouse.close()


# -- every column type, with its tricky values ----------------------------------------------

TYPED_COLUMNS = """
    id bigint, name text, anon varchar(40), price numeric(10, 2), amount numeric(38, 10),
    free numeric, big numeric(38, 0), d double precision, r real, ok boolean, small smallint,
    i integer, day date, "at" timestamp, at_tz timestamptz, tags text[], nums bigint[],
    flags boolean[], doc jsonb, raw json
"""
STRINGS = [
    "",
    "a",
    "Zoë 😀 東京",
    'quote " and \\ backslash',
    "tab\tnew\nline\r",
    "\x01ctl\x1f",
    "\b\f\x7f",
    "'",
    "\u2028\u2029 line separators",
    "</script>",
    "\\u0041 not an escape",
    "€ \U0001f1eb\U0001f1f7 \u200d",
    " ",
]
AT = [
    datetime(1969, 12, 31, 23, 59, 59, 999999),
    datetime(1900, 1, 1, 0, 0, 0, 1000),
    datetime(1970, 1, 1),
    datetime(2024, 2, 29, 23, 59, 59, 999999),
    datetime(2038, 1, 19, 3, 14, 8, 123456),
]
JSONB = [
    '"x"',
    '"Zoë 😀 \\n \\u0001 \\" \\\\"',
    '""',
    "true",
    "false",
    "null",
    "0",
    "-12",
    "123456789012345678",
    # objects of those: written by the warehouse, without jsonb's spaces, in its key order
    "{}",
    '{"a": 1}',
    '{"city": "c5", "zip": 5, "a": null, "bb": true, "ccc": false, "n": -12}',
    '{"k\\"e,y: ": "v: {1, 2}", "Zoë 😀": "\\u0001 \\n", "": ""}',
    '{"z": "last", "y": "x", "aaa": 0, "b": "123456789012345678"}',
    # separators inside strings that are not next to a string's own quote stay as they are
    '{"a": "x\\", \\"b", "c": "1, 2: 3", "d": ", x", "e": "x: "}',
    # for the builder: separators next to a string's own quote (or an escaped one), whose
    # compacted text reads back as another object
    '{"a\\\\": "\\\\", "b": "x\\", \\"c\\": 1"}',
    '{"x": ", \\"y\\": ", "z": -0, "q": "}"}',
    '{"x": "y, ", "z": 1}',
    '{"a": ": b"}',
    # for the builder: fractions, exponents, long integers, nested values, arrays
    "1.50",
    "-0",
    "1e5",
    "18446744073709551615",
    '{"b": "x", "a": [true, null]}',
    '{"a": {"b": 1}}',
    '{"a": [1, 2]}',
    '{"a": []}',
    '{"a": 1.5}',
    '{"a": 18446744073709551615}',
    "[1, 2]",
    "[]",
]
TYPED_VALUES: dict[str, list[Any]] = {
    "name": STRINGS,
    "anon": ["", "anon-1", "Zoë", 'a"b'],
    "price": [Decimal("12.50"), Decimal("-0.50"), Decimal("0.00"), Decimal("99999999.99")],
    "amount": [
        Decimal("1234567890123456789012345678.1234567890"),
        Decimal("-0.0000000001"),
        Decimal("0E-10"),
        Decimal("1.5000000000"),
    ],
    "free": [
        Decimal("123.4500"),
        Decimal("-0.000"),
        Decimal("0"),
        Decimal("1E+20"),
        Decimal("1E-60"),
        Decimal("-7.5E-30"),
        Decimal("9" * 299),
        # for the builder: NaN, infinities, beyond a double, more than 60 decimals
        "NaN",
        "Infinity",
        "-Infinity",
        Decimal("1E+300"),
        Decimal("1E-70"),
        "0." + "0" * 70,
    ],
    "big": [Decimal(2**64 - 1), Decimal(2**63), Decimal(-(2**63) - 1), Decimal(10**37)],
    "d": [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.1,
        1 / 3,
        -2.5,
        1e-4,
        0.00012345,
        123456789012345.6,
        999999999999999.9,
        2.0**49,
        1e14 + 0.5,
        # for the builder: exponents, NaN, infinities
        1e15,
        1e16,
        9.9e-5,
        5e-324,
        1.7976931348623157e308,
        -2.2250738585072014e-308,
        float("nan"),
        float("inf"),
        float("-inf"),
    ],
    "r": [0.0, -0.0, 0.1, 1.5, -3.25, 123456.0, 0.001, 1e-4, 16777216.0, 3.4028235e38, 1e-5],
    "ok": [True, False],
    "small": [0, -32768, 32767],
    "i": [0, -(2**31), 2**31 - 1],
    "day": [
        date(1969, 12, 31),
        date(1, 1, 1),
        date(2024, 2, 29),
        date(9999, 12, 31),
        "infinity",
        "-infinity",
        "0044-03-15 BC",
        "10000-01-01",
    ],
    "at": [*AT, "infinity", "10000-01-01 00:00:00", "0044-03-15 12:00:00 BC"],
    "at_tz": [
        *(
            at.replace(tzinfo=timezone(timedelta(hours=h, minutes=m)))
            for at in AT[2:]
            for h, m in ((0, 0), (5, 45), (-9, -30), (14, 0))
        ),
        "-infinity",
        "9999-12-31 23:59:59.999+00",
        "9999-12-31 23:00:00-05",
    ],
    "tags": [
        [],
        ["a", "Zoë 😀", 'q"uote'],
        [None, ""],
        ["\x01", "tab\t", "\\"],
        # for the builder: another lower bound, two dimensions
        "[0:1]={a,b}",
        [["a", "b"], ["c", "d"]],
    ],
    "nums": [[], [1, -(2**63), 2**63 - 1], [None]],
    "flags": [[True, None, False], []],
    "doc": JSONB,
    "raw": ['{"a": 1}', '"x"', "null", "[1,2]"],
}


# the values the lane leaves to the builder, each alone in its row ("at" is the timestamp field)
FLAGGED_ALONE: dict[str, list[Any]] = {
    "free": ["NaN", "Infinity", "-Infinity", Decimal("1E+300"), Decimal("1E-70"), "0." + "0" * 70],
    "d": [1e15, 1e16, 9.9e-5, 5e-324, 1.7976931348623157e308, -2.2250738585072014e-308]
    + [float("nan"), float("inf"), float("-inf")],
    "r": [16777216.0, 3.4028235e38, 1e-5],
    "at": ["10000-01-01 00:00:00"],
    "tags": ["[0:1]={a,b}", [["a", "b"], ["c", "d"]]],
    "doc": [
        '{"a\\\\": "\\\\", "b": "x\\", \\"c\\": 1"}',
        '{"x": ", \\"y\\": ", "z": -0, "q": "}"}',
        '{"x": "y, ", "z": 1}',
        '{"a": ": b"}',
        "1.50",
        "18446744073709551615",
        '{"b": "x", "a": [true, null]}',
        '{"a": {"b": 1}}',
        '{"a": [1, 2]}',
        '{"a": []}',
    ]
    + ['{"a": 1.5}', '{"a": 18446744073709551615}', "[1, 2]", "[]"],
    "raw": ['{"a": 1}', '"x"', "null", "[1,2]"],
}


def typed_row(rng: random.Random, seq: int) -> tuple[Any, ...]:
    """A row of random values, one in fifty of them one the builder must write."""

    def value(column: str) -> Any:
        roll = rng.random()
        if roll < 0.12:
            return None
        flagged = FLAGGED_ALONE.get(column, [])
        if flagged and roll < 0.14:
            return rng.choice(flagged)
        lane = [v for v in TYPED_VALUES[column] if repr(v) not in map(repr, flagged)]
        return rng.choice(lane or [None])

    values = [value(column) for column in TYPED_VALUES]
    user_id = None if rng.random() < 0.05 else seq
    op = rng.choice(["added", "updated", "deleted"])
    return (seq, op, str(seq), f"h{seq}", rng.randint(0, 3), user_id, *values)


PLAIN_BODY = {
    "price": "price",
    "amount": "amount",
    "free": "free",
    "big": "big",
    "d": "d",
    "r": "r",
    "ok": "ok",
    "small": "small",
    "i": "i",
    "day": "day",
    "at": "at",
    "at_tz": "at_tz",
    "tags": "tags",
    "nums": "nums",
    "flags": "flags",
    "doc": "doc",
    "name": "name",
    "plan": {"value": "pro"},
    "limit": {"value": 12.5},
    "nothing": {"value": None},
}
TYPED_MAPPINGS: dict[str, dict[str, Any]] = {
    "identify": {
        "action": "identify",
        "fields": {
            "user_id": "id",
            "anonymous_id": "anon",
            "group_id": "name",
            "timestamp": "at_tz",
            "traits": PLAIN_BODY,
        },
    },
    "group": {
        "action": "group",
        "fields": {"user_id": "id", "group_id": "name", "timestamp": "day", "traits": PLAIN_BODY},
    },
    "track": {
        "action": "track",
        "fields": {
            "user_id": "id",
            "anonymous_id": "anon",
            "event_name": "name",
            "group_id": "anon",
            "timestamp": "at",
            "properties": {**PLAIN_BODY, "raw": "raw"},
        },
    },
    "track_constants": {
        "action": "track",
        "fields": {
            "user_id": {"value": 42},
            "anonymous_id": "anon",
            "event_name": {"value": "Order Placed"},
            "timestamp": {"value": "2024-01-02T03:04:05+01:00"},
            "properties": ["name", "d", "ok", "small"],
        },
    },
    "identify_doubles_only": {
        "action": "identify",
        "fields": {"user_id": "i", "traits": ["d", "r", "name", "ok"]},
    },
}


@pytest.mark.parametrize("time_zone", [None, "Asia/Kathmandu"])
@pytest.mark.parametrize("name", sorted(TYPED_MAPPINGS))
def test_postgres_lane_writes_every_column_type_as_the_builder(
    name: str,
    time_zone: str | None,
    tmp_path: Path,
    postgres_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if time_zone is not None:
        # libpq sets the session's TimeZone from PGTZ: timestamptz values print in it
        monkeypatch.setenv("PGTZ", time_zone)
    rng = random.Random(f"{name}{time_zone}")
    rows = [typed_row(rng, seq) for seq in range(1, 1501)]
    counts = compare_lane(tmp_path, postgres_server, TYPED_COLUMNS, rows, TYPED_MAPPINGS[name])
    assert counts.compared > 150, counts
    if name != "track_constants":
        # NaN, exponents, jsonb objects...: the builder's
        assert counts.flagged > 0, counts
    if name != "identify_doubles_only" and name != "track_constants":
        assert counts.rejected > 0, counts


def test_postgres_lane_writes_each_tricky_value_alone(
    tmp_path: Path, postgres_server: Any
) -> None:
    """One row per tricky value (the others NULL), so each is compared, not just sampled."""
    names = list(TYPED_VALUES)
    rows = []
    for column, choices in TYPED_VALUES.items():
        for value in choices:
            seq = len(rows) + 1
            values = [value if name == column else None for name in names]
            rows.append((seq, "added", str(seq), f"h{seq}", 1, seq, *values))
    every_column = {"user_id": "id", "timestamp": "at", "traits": {**PLAIN_BODY, "raw": "raw"}}
    raw = {"action": "identify", "fields": every_column}
    counts = compare_lane(tmp_path, postgres_server, TYPED_COLUMNS, rows, raw)
    flagged: dict[str, list[Any]] = {}
    for seq in counts.flagged_rows:
        column = next(c for c, v in zip(names, rows[seq - 1][6:]) if v is not None)
        flagged.setdefault(column, []).append(rows[seq - 1][6 + names.index(column)])
    assert repr(flagged) == repr(FLAGGED_ALONE)
    assert counts.compared == len(rows) - counts.flagged and counts.rejected == 0


def test_postgres_lane_flags_doubles_where_the_session_rounds_them(
    tmp_path: Path, postgres_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # extra_float_digits 0 prints 15 significant digits, not the shortest round-trip ones
    monkeypatch.setenv("PGOPTIONS", "-c extra_float_digits=0")
    rows = [
        (seq, "added", str(seq), f"h{seq}", 1, seq, value, "x")
        for seq, value in enumerate([0.1, 1 / 3, 2.5, None], start=1)
    ]
    counts = compare_lane(
        tmp_path,
        postgres_server,
        "id bigint, d double precision, name text",
        rows,
        {"action": "identify", "fields": {"user_id": "id", "traits": ["d", "name"]}},
    )
    assert counts == Counts(compared=1, rejected=0, flagged=3)


def test_postgres_lane_derives_each_messageid_as_the_runner(
    tmp_path: Path, postgres_server: Any
) -> None:
    """The warehouse's messageId is the runner's, byte for byte, for odd keys."""
    cases = _duckdb_lane_tests()
    raw = {"action": "identify", "fields": {"user_id": "user_id"}}
    rows = cases.odd_key_rows()
    counts = compare_lane(
        tmp_path, postgres_server, "id varchar, user_id varchar", rows, raw, name="odd_keys"
    )
    assert (counts.compared, counts.rejected, counts.flagged) == (len(rows), 0, 0)


def test_postgres_lane_reads_uuid_identifiers(tmp_path: Path, postgres_server: Any) -> None:
    ids = [None, "00000000-0000-0000-0000-000000000000", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"]
    rows = [
        (seq, "added", str(seq), f"h{seq}", 1, seq, ids[seq % 3], ids[(seq // 3) % 3], "x")
        for seq in range(1, 10)
    ]
    fields = {"user_id": "uid", "anonymous_id": "aid", "group_id": "aid", "traits": ["name"]}
    counts = compare_lane(
        tmp_path,
        postgres_server,
        "id bigint, uid uuid, aid uuid, name text",
        rows,
        {"action": "group", "fields": fields},
    )
    assert counts == Counts(compared=6, rejected=3, flagged=0)


# -- subscriptions: the DuckDB lane tests' rows, in Postgres ---------------------------------


@pytest.mark.parametrize("name", ["every_channel", "email_with_constants", "email_only"])
def test_postgres_lane_writes_subscriptions_as_the_builder(
    name: str, tmp_path: Path, postgres_server: Any
) -> None:
    shared = _duckdb_lane_tests()
    rng = random.Random(name)
    rows = [shared.subscription_row(rng, seq) for seq in range(1, 2001)]
    counts = compare_lane(
        tmp_path,
        postgres_server,
        shared.SUBSCRIPTION_COLUMNS,
        rows,
        shared.SUBSCRIPTION_MAPPINGS[name],
    )
    assert counts.compared > 200, counts
    assert counts.rejected > 200, counts
    # non-ASCII or quoted statuses: judged by the builder
    assert counts.flagged > 0, counts


def test_postgres_column_types_are_the_dialects_names(
    tmp_path: Path, postgres_server: Any
) -> None:
    warehouse = postgres_warehouse(tmp_path / "project", postgres_server, "lane_types")
    try:
        warehouse.execute('create schema if not exists "lane_types"')
        warehouse.execute(
            'create table "lane_types"."t" ("Mixed Case" numeric(10,2), b varchar(5)[], '
            "c timestamp(3) with time zone, d double precision)"
        )
        warehouse.execute('alter table "lane_types"."t" drop column d')
        assert warehouse.column_types(warehouse.table("t")) == {
            "Mixed Case": "numeric(10,2)",
            "b": "character varying(5)[]",
            "c": "timestamp(3) with time zone",
        }
    finally:
        warehouse.execute('drop schema if exists "lane_types" cascade')
        warehouse.close()
