from __future__ import annotations

import importlib.util
import socket
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

psycopg2 = pytest.importorskip("psycopg2")


def _load_pg_server() -> ModuleType:
    # Loaded by path because tests/ is not a package and rootdir may not be on sys.path.
    name = "tests.pg_server"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parents[1] / "pg_server.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolves annotations through sys.modules, so register before executing.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


pg_server = _load_pg_server()


def _port_accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def pg_bin() -> Path:
    try:
        return pg_server.find_pg_bin()
    except RuntimeError as exc:
        pytest.skip(str(exc))


def test_start_query_stop(pg_bin: Path) -> None:
    started = time.monotonic()
    server = pg_server.start_postgres()
    elapsed = time.monotonic() - started
    try:
        assert server.host == "127.0.0.1"
        assert server.dbname == "segment_test"
        assert server.data_dir.is_dir()
        assert _port_accepts(server.port)

        conn = psycopg2.connect(server.dsn())
        try:
            with conn, conn.cursor() as cur:
                cur.execute("select 1")
                assert cur.fetchone() == (1,)
                cur.execute("select current_database()")
                assert cur.fetchone() == ("segment_test",)
                cur.execute("create table t (id int primary key, name text)")
                cur.execute("insert into t values (%s, %s), (%s, %s)", (1, "a", 2, "ü"))
                cur.execute("select id, name from t order by id")
                assert cur.fetchall() == [(1, "a"), (2, "ü")]
        finally:
            conn.close()
    finally:
        server.stop()

    print(f"start_postgres took {elapsed:.2f}s")
    assert not _port_accepts(server.port)
    assert not server.data_dir.exists()
    assert not server.base_dir.exists()
    # A second stop (e.g. fixture teardown after an explicit stop, then atexit) is a no-op.
    server.stop()


def test_context_manager_and_custom_base_dir(pg_bin: Path, tmp_path: Path) -> None:
    base = Path("/tmp") / f"pgbase-{tmp_path.name}"
    try:
        with pg_server.start_postgres(base_dir=base) as server:
            assert base in server.data_dir.parents
            conn = psycopg2.connect(
                host=server.host,
                port=server.port,
                user=server.user,
                password=server.password,
                dbname=server.dbname,
            )
            conn.close()
        assert server.stopped
        assert not server.data_dir.exists()
        assert not _port_accepts(server.port)
    finally:
        if base.exists():
            base.rmdir()


def test_find_pg_bin_has_tools(pg_bin: Path) -> None:
    assert (pg_bin / "initdb").is_file()
    assert (pg_bin / "pg_ctl").is_file()


def test_find_pg_bin_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(pg_server, "PG_LIB_DIR", tmp_path)
    monkeypatch.setattr(pg_server.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="make test"):
        pg_server.find_pg_bin()
