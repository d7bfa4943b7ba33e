"""The delivery benchmark's paths: one model and one mapping each, what a sync of it must do.

A path is an action and the column types its mapping reads. Each gets a model of its own per
size (`<path>_<size>`), built by the same `dbt run`, so every sync starts with all its rows
pending. The model SQL is written once for DuckDB and Postgres: the few expressions whose
spelling differs come from `Dialect`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SENT, REJECTED, FAILED = "sent", "rejected", "failed"
# the profile space of the failing path: its endpoint answers every batch 501, which Segment's
# clients do not retry, so each row is recorded as failed after one request per batch
FAILING_SPACE = "failing"


@dataclass(frozen=True)
class Dialect:
    """Expressions whose spelling differs between the warehouses."""

    series: str  # the rows 0..n-1 as t(i), with {rows}
    seconds: str  # an interval of {i} seconds
    double: str
    json_object: str  # an object with city (text) and zip (integer), from {i}
    int_list: str  # a list of two integers, from {i}


DIALECTS = {
    "duckdb": Dialect(
        series="range({rows}) as t(i)",
        seconds="to_seconds({i})",
        double="double",
        json_object="{{'city': 'c' || ({i} % 100), 'zip': cast({i} % 1000 as integer)}}",
        int_list="[cast({i} % 7 as integer), cast({i} % 11 as integer)]",
    ),
    "postgres": Dialect(
        series="generate_series(0, {rows} - 1) as t(i)",
        seconds="make_interval(secs => {i})",
        double="double precision",
        json_object="jsonb_build_object('city', 'c' || ({i} % 100), 'zip', {i} % 1000)",
        int_list="array[cast({i} % 7 as integer), cast({i} % 11 as integer)]",
    ),
}


@dataclass(frozen=True)
class Path:
    """One benchmarked path: the model's columns (SQL over i, with dialect placeholders), the
    mapping's action and fields, and what its sync must do with every row."""

    name: str
    label: str  # as the report prints it
    action: str
    columns: dict[str, str]
    fields: dict[str, Any]
    outcome: str = SENT
    space: str = "default"
    key: str = "user_id"
    syncs: int = 1  # the rejected path syncs twice: new issues, then the same ones again

    def model_sql(self, warehouse: str, rows: int) -> str:
        dialect = DIALECTS[warehouse]
        values = {
            "i": "i",
            "double": dialect.double,
            "seconds": dialect.seconds.format(i="i"),
            "json_object": dialect.json_object.format(i="i"),
            "int_list": dialect.int_list.format(i="i"),
        }
        selected = ",\n  ".join(
            f"{sql.format(**values)} as {name}" for name, sql in self.columns.items()
        )
        return f"select\n  {selected}\nfrom {dialect.series.format(rows=rows)}\n"

    def model(self, size: str) -> str:
        return f"{self.name}_{size}"

    def mapping(self, size: str) -> str:
        return f"{self.name}_{size}_to_segment"


USER = {"user_id": "i", "email": "'user' || i || '@example.com'"}
PLAN = "case i % 3 when 0 then 'free' when 1 then 'pro' else 'enterprise' end"
PLAIN_COLUMNS = {
    **USER,
    "plan": PLAN,
    "orders": "cast(i % 97 as integer)",
    "lifetime_value": "cast(i % 10000 as {double}) / 7.0",
    "signed_up_at": "timestamp '2024-01-01 00:00:00' + {seconds}",
}
PLAIN_TRAITS = ["email", "plan", "orders", "lifetime_value", "signed_up_at"]


def typed(name: str, label: str, column: str) -> Path:
    """identify with two plain traits and one of the given type."""
    return Path(
        name,
        label,
        "identify",
        {**USER, "plan": PLAN, "value": column},
        {"user_id": "user_id", "traits": {"email": "email", "plan": "plan", name: "value"}},
    )


PATHS = [
    Path(
        "identify",
        "identify, 5 plain traits",
        "identify",
        PLAIN_COLUMNS,
        {"user_id": "user_id", "traits": PLAIN_TRAITS},
    ),
    typed("decimal", "identify + DECIMAL(12,2)", "cast((i % 100000) / 100.0 as decimal(12, 2))"),
    typed("date", "identify + DATE", "date '2024-01-01' + cast(i % 1000 as integer)"),
    typed(
        "timestamptz",
        "identify + TIMESTAMPTZ",
        "cast('2024-01-01 00:00:00+00' as timestamptz) + {seconds}",
    ),
    typed("json", "identify + JSON/STRUCT", "{json_object}"),
    typed("list", "identify + LIST", "{int_list}"),
    Path(
        "group",
        "group, 3 traits",
        "group",
        {
            "user_id": "i",
            "group_id": "'account-' || (i % 50000)",
            "name": "'Account ' || (i % 50000)",
            "plan": PLAN,
            "employees": "cast(i % 5000 as integer)",
        },
        {"user_id": "user_id", "group_id": "group_id", "traits": ["name", "plan", "employees"]},
    ),
    Path(
        "track",
        "track, 3 properties",
        "track",
        {
            "order_id": "i",
            "user_id": "'user-' || (i % 100000)",
            "amount": "cast(i % 10000 as {double}) / 100.0",
            "currency": "case i % 2 when 0 then 'EUR' else 'USD' end",
            "placed_at": "timestamp '2024-01-01 00:00:00' + {seconds}",
        },
        {
            "user_id": "user_id",
            "event_name": {"value": "Order Placed"},
            "properties": ["order_id", "amount", "currency"],
            "timestamp": "placed_at",
        },
        key="order_id",
    ),
    Path(
        "subscriptions",
        "subscriptions: email, sms, 1 group",
        "subscriptions",
        {
            **USER,
            "phone": "'+1555' || lpad(cast(i as varchar), 7, '0')",
            "email_status": "case i % 2 when 0 then 'subscribed' else 'unsubscribed' end",
            "sms_status": "case i % 3 when 0 then 'did_not_subscribe' else 'subscribed' end",
            "newsletter": "case i % 2 when 0 then 'subscribed' else 'unsubscribed' end",
        },
        {
            "user_id": "user_id",
            "email": "email",
            "email_subscription_status": "email_status",
            "phone": "phone",
            "sms_subscription_status": "sms_status",
            "subscription_groups": {"newsletter": "newsletter"},
        },
    ),
    Path(
        "rejected",
        "every row rejected",
        "subscriptions",
        {**USER, "status": "'MAYBE'"},
        {"user_id": "user_id", "email": "email", "email_subscription_status": "status"},
        outcome=REJECTED,
        syncs=2,
    ),
    Path(
        "failed",
        "every row failed (HTTP 501)",
        "identify",
        PLAIN_COLUMNS,
        {"user_id": "user_id", "traits": PLAIN_TRAITS},
        outcome=FAILED,
        space=FAILING_SPACE,
    ),
]
BY_NAME = {path.name: path for path in PATHS}
# the bare sender reads this path's pending rows
REFERENCE = "identify"
