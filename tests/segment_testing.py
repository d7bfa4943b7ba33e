"""Helpers for functional tests: run the runner in this process, read what the sandbox got."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dbt_segment_profiles.cli import main as segment_main
from dbt_segment_profiles.sandbox import Sandbox

REPO_ROOT = Path(__file__).resolve().parents[1]
WRITE_KEY_ENV = "SEGMENT_TEST_WRITE_KEY"
ENDPOINT_ENV = "SEGMENT_TEST_ENDPOINT"
# the write key the `serve` fixture's sandboxes expect
SERVE_KEY = "fault-test-key"


def segment_project_config(
    extra_vars: dict[str, Any] | None = None, **space_settings: Any
) -> dict[str, Any]:
    """dbt_project.yml of a user's project: the post-hook line and a profile space (a setting
    given as None is left out: `write_key_env=None` for a space with a Public API token)."""
    space = {"write_key_env": WRITE_KEY_ENV, "endpoint": "{{ env_var('" + ENDPOINT_ENV + "') }}"}
    space.update(space_settings)
    space = {key: value for key, value in space.items() if value is not None}
    settings: dict[str, Any] = {"profile_spaces": {"default": space}}
    settings.update(extra_vars or {})
    return {
        "models": {"+post-hook": "{{ segment_profiles.capture_changes() }}"},
        "vars": {"segment_profiles": settings},
    }


def received(sandbox: Sandbox) -> list[dict[str, Any]]:
    path = sandbox.output
    if path is None or not Path(path).exists():
        return []
    text = Path(path).read_text()
    # the sandbox may be writing a batch right now (a killed client's last one): a line counts
    # once it is whole
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line]


def settled(sandbox: Sandbox, quiet_seconds: float = 0.5, timeout: float = 60) -> None:
    """Wait until the sandbox has answered no new request for `quiet_seconds`: after a client
    is killed, what it had in flight is still being taken."""
    deadline = time.monotonic() + timeout
    last = sandbox.stats.snapshot()["requests"]
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = sandbox.stats.snapshot()["requests"]
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_seconds:
            return


def segment(project: Any, *args: str) -> tuple[int, Any]:
    """Run `dbt-segment <args> --json` in this process; the exit code and the parsed output."""
    out = io.StringIO()
    argv = [
        *args,
        "--project-dir",
        str(project.project_root),
        "--profiles-dir",
        str(project.profiles_dir),
        "--json",
    ]
    with contextlib.redirect_stdout(out):
        code = segment_main(argv)
    text = out.getvalue()
    try:
        return code, json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return code, text


def by_mapping(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["mapping"]: m for m in document["results"]}


def write_seed(project: Any, name: str, header: str, rows: list[tuple[Any, ...]]) -> None:
    """Replace a seed's rows: its CSV, as a user would edit it, and its table, as `dbt seed
    --full-refresh --select <name>` leaves it (dropped with what depends on it, then created
    with the column types dbt infers from the CSV, empty cells NULL), loaded in SQL: a `dbt
    seed` invocation cost about a second of CPU, and the suites ran some sixty."""
    from dbt.tests.util import run_dbt, write_file
    from dbt_common.clients.agate_helper import from_csv

    lines = [header] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    write_file("\n".join(lines) + "\n", project.project_root, "seeds", f"{name}.csv")
    if project.adapter_type == "spark":
        run_dbt(["seed", "--full-refresh", "--select", name])
        return
    adapter = registered_adapter(project)
    table = from_csv(str(Path(project.project_root) / "seeds" / f"{name}.csv"), text_columns=[])
    relation = adapter.Relation.create(
        database=project.database, schema=project.test_schema, identifier=name
    )
    columns = ", ".join(
        f"{adapter.quote(column)} {adapter.convert_type(table, i)}"
        for i, column in enumerate(table.column_names)
    )
    statements = [
        f"drop table if exists {relation} cascade",
        f"create table {relation} ({columns})",
    ]
    if table.rows:
        values = ", ".join(
            "(" + ", ".join(_literal(value) for value in row) + ")" for row in table.rows
        )
        statements.append(f"insert into {relation} values {values}")
    for sql in statements:
        # run_sql fills in {schema} and {database} with str.format: a value's braces are kept
        project.run_sql(sql.replace("{", "{{").replace("}", "}}"))


def registered_adapter(project: Any) -> Any:
    """The project's adapter, registered again if a dbt command since (`dbt deps`) reset
    dbt's adapters, as the `project` fixture registers it."""
    try:
        return project.adapter
    except KeyError:
        pass
    from argparse import Namespace

    from dbt import flags
    from dbt.adapters.factory import get_adapter, register_adapter
    from dbt.config.runtime import RuntimeConfig
    from dbt.mp_context import get_mp_context

    args = Namespace(
        profiles_dir=str(project.profiles_dir),
        project_dir=str(project.project_root),
        target=None,
        profile=None,
        threads=None,
    )
    flags.set_from_args(args, {})
    config = RuntimeConfig.from_args(args)
    register_adapter(config, get_mp_context())
    return get_adapter(config)


def _literal(value: Any) -> str:
    """A CSV cell as agate read it, as a SQL literal the column's type takes."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def sent_counts(document: dict[str, Any]) -> dict[str, int]:
    return {m["mapping"]: m["sent"] for m in document["results"]}


def release_duckdb() -> None:
    """Close dbt-duckdb's handle in this process, so another process may open the file."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
        DuckDBConnectionManager._ENV = None


def generated_users_sql(rows: int) -> str:
    """A model of `rows` users, generated in the warehouse."""
    return (
        "{% if target.type == 'duckdb' %}"
        f"select range as id from range({rows})"
        "{% elif target.type == 'spark' %}"
        f"select explode(sequence(0, {rows - 1})) as id"
        "{% else %}"
        f"select generate_series(0, {rows - 1}) as id"
        "{% endif %}"
    )


def users_model_sql(rows: int) -> str:
    return (
        f"with ids as ({generated_users_sql(rows)})\n"
        "select id, 'user' || cast(id as "
        "{{ 'string' if target.type == 'spark' else 'varchar(20)' }})"
        " || '@example.com' as email,\n"
        "  case when id % 3 = 0 then 'pro' else 'free' end as plan,\n"
        "  {{ var('version', 1) }} as version\n"
        "from ids"
    )


USERS_YML = """
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
              send: [added, updated, deleted]
              fields:
                user_id: id
                traits: [email, plan, version]
"""


# subscribers by id: an email and its subscription status
SUBSCRIPTIONS_YML = """
version: 2
models:
  - name: dim_subscribers
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: subscribers
              action: subscriptions
              profile_space: default
              fields:
                user_id: id
                email: email
                email_subscription_status: status
"""


def recorded_issues(project: Any, mapping: str, columns: str = "record_key") -> list[Any]:
    """The mapping's rows in segment_record_issues, these columns of them, by key."""
    return project.run_sql(
        f"select {columns} from {project.test_schema}_segment.segment_record_issues "
        f"where mapping_name = '{mapping}' order by record_key",
        fetch="all",
    )


def acknowledged_keys(project: Any, mapping: str, schema: str | None = None) -> list[str]:
    """Keys whose latest acknowledged change is not a delete: the state, with the acks the
    runner recorded since the last capture (the next capture folds them in). Checks that neither
    table holds a key (or a key's change version) twice."""
    prefix = f"{schema or project.test_schema + '_segment'}.{mapping}"
    state = project.run_sql(f"select record_key, row_hash from {prefix}__state", fetch="all")
    acks = project.run_sql(
        f"select record_key, operation, change_version from {prefix}__acks", fetch="all"
    )
    assert len({k for k, _ in state}) == len(state), "a key twice in the state"
    assert len({(k, v) for k, _, v in acks}) == len(acks), "a change acknowledged twice"
    live = {k for k, h in state if h is not None}
    latest: dict[str, tuple[int, str]] = {}
    for key, op, version in acks:
        if key not in latest or version > latest[key][0]:
            latest[key] = (version, op)
    for key, (_, op) in latest.items():
        (live.discard if op == "deleted" else live.add)(key)
    return sorted(live)


def build_and_start_sync_child(
    project: Any, serve: Any, quiet: bool = True, latency_ms: float = 40, hold: bool = False
) -> tuple[Sandbox, subprocess.Popen]:
    """`dbt run`, then `dbt-segment sync` in a child process against a slow sandbox; with
    `hold`, one that answers no batch until the test calls `box.release_answers()`."""
    from dbt.tests.util import run_dbt

    from dbt_segment_profiles.sandbox.faults import Faults

    run_dbt(["deps"])
    run_dbt(["run"])
    release_duckdb()  # the child needs the DuckDB file to itself
    box = serve(Faults(latency_ms=latency_ms))
    if hold:
        box.hold_answers()
    command = [
        sys.executable,
        "-m",
        "dbt_segment_profiles.cli",
        "sync",
        "--project-dir",
        str(project.project_root),
        "--profiles-dir",
        str(project.profiles_dir),
    ]
    child = subprocess.Popen(
        [*command, "--quiet"] if quiet else command,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return box, child


def wait_for_batches(box: Sandbox, child: subprocess.Popen, batches: int) -> None:
    deadline = time.monotonic() + 120
    while box.stats.snapshot()["accepted_batches"] < batches:
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.01)


def insert_rows(cursor: Any, table: str, rows: list[tuple[Any, ...]]) -> None:
    """Insert `rows` with multi-row VALUES statements, each value a parameter bound to its
    column's type as executemany binds it: DuckDB's executemany runs one statement per row
    (7 s for 3,000 rows of seven columns, against 0.5 s in statements of 250 rows)."""
    per = 250
    for start in range(0, len(rows), per):
        chunk = rows[start : start + per]
        row_marks = "(" + ", ".join(["?"] * len(chunk[0])) + ")"
        cursor.execute(
            f"insert into {table} values " + ", ".join([row_marks] * len(chunk)),
            [value for row in chunk for value in row],
        )


def duckdb_warehouse(path: Path, schema: str) -> Any:
    """A DuckDB file opened as the runner opens a target's warehouse: through dbt, from a
    project whose profile points at the file."""
    from dbt_segment_profiles.project import locate
    from dbt_segment_profiles.warehouse import open_warehouse

    root = path.parent / f"{path.stem}_project"
    root.mkdir(exist_ok=True)
    (root / "dbt_project.yml").write_text(
        "name: warehouse_only\nversion: '1.0'\nprofile: warehouse_only\nconfig-version: 2\n"
    )
    profile = {"target": "dev", "outputs": {"dev": {"type": "duckdb", "path": str(path)}}}
    (root / "profiles.yml").write_text(json.dumps({"warehouse_only": profile}))
    return open_warehouse(locate(root, root), schema)


class ProjectWithoutThePackage:
    """Base for test classes whose dbt project installs nothing (no package, no hooks): the
    Spark tests about Spark itself."""

    @pytest.fixture(scope="class")
    @classmethod
    def packages(cls) -> dict[str, Any]:
        return {}

    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict[str, Any]:
        return {}


def mapping_of(raw: dict[str, Any]) -> Any:
    """The one mapping `raw` declares on a model `t` keyed by `id`, parsed as the runner parses
    a manifest's, with one profile space, `default` (for tests of the message layer)."""
    from dbt_segment_profiles.mappings import load_mappings
    from dbt_segment_profiles.settings import parse_settings

    settings, _ = parse_settings({"profile_spaces": {"default": {"write_key_env": "K"}}}, "s")
    node = {
        "resource_type": "model",
        "name": "t",
        "unique_id": "model.p.t",
        "config": {"meta": {"segment": {"primary_key": "id", "mappings": [raw]}}},
    }
    result = load_mappings({"nodes": {"t": node}}, settings)
    assert result.problems == []
    (mapping,) = result.mappings
    return mapping
