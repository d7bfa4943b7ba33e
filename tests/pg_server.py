"""Throwaway PostgreSQL servers for tests.

Each call to :func:`start_postgres` runs ``initdb`` into a fresh temporary directory and
starts a private postmaster on a free loopback port, so tests never depend on (or disturb)
a system cluster, its port 5432, or the permissions of ``/var/run/postgresql``.

Deliberately free of pytest imports so the runner, benchmarks and fixtures can all use it.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PostgresServer", "find_pg_bin", "start_postgres"]

# Debian/Ubuntu layout; one bin/ per installed major version.
PG_LIB_DIR = Path("/usr/lib/postgresql")
DEFAULT_DBNAME = "segment_test"
SUPERUSER = "postgres"
# Trust auth ignores the password; it only exists so DSNs and dbt profiles look normal.
PASSWORD = "postgres"
# initdb refuses to run as root, so under root (CI) the cluster belongs to this system user.
SYSTEM_USER = "postgres"

_INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) were not found in /usr/lib/postgresql/*/bin "
    "or on PATH. Run `make test` (it calls scripts/ensure_postgres.sh) or install them with "
    "`apt-get install postgresql`."
)
# sun_path is 108 bytes on Linux; leave room for "/.s.PGSQL.NNNNN.lock".
_MAX_SOCKET_DIR_LEN = 80
_START_ATTEMPTS = 3


def _version_key(path: Path) -> tuple[int, ...]:
    # Sort "9.6" < "10" < "15" numerically; a plain string sort would pick 9.6 as newest.
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (-1,)


def find_pg_bin() -> Path:
    """Return the directory holding ``initdb`` and ``pg_ctl`` (newest Debian install first)."""
    candidates = [
        p
        for p in PG_LIB_DIR.glob("*/bin")
        if (p / "initdb").is_file() and (p / "pg_ctl").is_file()
    ]
    if candidates:
        return max(candidates, key=_version_key)
    # Debian does not put initdb on PATH, but other distros and Homebrew do.
    initdb = shutil.which("initdb")
    if initdb:
        bin_dir = Path(initdb).resolve().parent
        if (bin_dir / "pg_ctl").is_file():
            return bin_dir
    raise RuntimeError(_INSTALL_HINT)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env() -> dict[str, str]:
    # Inherited PGDATA/PGPORT/PGHOST etc. would silently redirect initdb or pg_ctl.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    # Keeps server messages in English so the log tail in errors is predictable.
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    return env


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:]) or "(server log is empty)"


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    dbname: str
    data_dir: Path
    bin_dir: Path = field(default=Path(), repr=False)
    base_dir: Path = field(default=Path(), repr=False)
    run_as: str | None = field(default=None, repr=False)
    extra_dirs: list[Path] = field(default_factory=list, repr=False)
    stopped: bool = field(default=False, repr=False, compare=False)

    @property
    def log_file(self) -> Path:
        return self.base_dir / "postgres.log"

    def dsn(self) -> str:
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"password={self.password} dbname={self.dbname}"
        )

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_file, lines)

    def stop(self) -> None:
        if self.stopped:
            return
        # Mark first so a failure below (or a second caller) never retries a half-done stop.
        self.stopped = True
        atexit.unregister(self.stop)
        try:
            if (self.data_dir / "postmaster.pid").exists():
                # Immediate mode: the data is thrown away, so a clean checkpoint is wasted time.
                _run(
                    [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir)]
                    + ["-m", "immediate", "-w", "-t", "30", "stop"],
                    run_as=self.run_as,
                    cwd=self.base_dir,
                    check=False,
                )
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            for extra in self.extra_dirs:
                shutil.rmtree(extra, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _run(
    argv: list[str], *, run_as: str | None, cwd: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    if run_as is not None:
        argv = ["runuser", "-u", run_as, "--", *argv]
    # cwd inside our temp dir: the postgres user usually cannot read the caller's cwd
    # (e.g. /root), which makes initdb and pg_ctl emit confusing warnings.
    proc = subprocess.run(
        argv, cwd=cwd, env=_clean_env(), capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"command failed with exit code {proc.returncode}: {shlex.join(argv)}\n"
            f"stdout:\n{proc.stdout.strip()}\nstderr:\n{proc.stderr.strip()}"
        )
    return proc


def _check_traversable(path: Path) -> None:
    # The postgres user must be able to reach the data dir through every parent directory.
    for parent in path.resolve().parents:
        if not os.stat(parent).st_mode & 0o001:
            raise RuntimeError(
                f"{parent} is not traversable by other users, so the {SYSTEM_USER!r} user "
                f"cannot reach {path}; pass a base_dir under /tmp instead"
            )


def _root_user() -> str | None:
    if os.geteuid() != 0:
        return None
    if shutil.which("runuser") is None:
        raise RuntimeError("running as root requires `runuser` (util-linux) to drop privileges")
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError as exc:
        raise RuntimeError(
            f"running as root, but there is no {SYSTEM_USER!r} system user to own the "
            "cluster (initdb refuses root); install the postgresql package or run as non-root"
        ) from exc
    return SYSTEM_USER


def _create_database(host: str, port: int, dbname: str) -> None:
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(
        host=host, port=port, user=SUPERUSER, password=PASSWORD, dbname="postgres"
    )
    try:
        # CREATE DATABASE cannot run inside a transaction block.
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    finally:
        conn.close()


def start_postgres(base_dir: Path | None = None) -> PostgresServer:
    """Create and start a throwaway cluster; call ``stop()`` (or use ``with``) when done.

    ``base_dir`` is the parent for the temporary directory (default: ``/tmp``).
    """
    bin_dir = find_pg_bin()
    run_as = _root_user()
    # Default to /tmp rather than $TMPDIR: under root the postgres user must traverse it.
    parent = Path(base_dir) if base_dir is not None else Path("/tmp")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="pgtest-", dir=parent))
    extra_dirs: list[Path] = []
    server: PostgresServer | None = None
    try:
        sock_dir = tmp / "sock"
        if len(str(sock_dir)) > _MAX_SOCKET_DIR_LEN:
            # Unix socket paths are capped at ~107 bytes; deep base_dirs would break startup.
            sock_dir = Path(tempfile.mkdtemp(prefix="pgs-", dir="/tmp"))
            extra_dirs.append(sock_dir)
        sock_dir.mkdir(exist_ok=True)
        data_dir = tmp / "data"
        if run_as is not None:
            _check_traversable(tmp)
            account = pwd.getpwnam(run_as)
            for path in (tmp, sock_dir):
                # pg_ctl writes the log and initdb creates data/ here as the postgres user.
                os.chown(path, account.pw_uid, account.pw_gid)
                os.chmod(path, 0o755)

        # --no-sync and the -c settings below trade durability for speed: data is disposable.
        _run(
            [str(bin_dir / "initdb"), "-D", str(data_dir), "-A", "trust", "-U", SUPERUSER]
            + ["--no-sync", "-E", "UTF8", "--locale=C"],
            run_as=run_as,
            cwd=tmp,
        )

        server = PostgresServer(
            host="127.0.0.1",
            port=0,
            user=SUPERUSER,
            password=PASSWORD,
            dbname=DEFAULT_DBNAME,
            data_dir=data_dir,
            bin_dir=bin_dir,
            base_dir=tmp,
            run_as=run_as,
            extra_dirs=extra_dirs,
        )
        atexit.register(server.stop)

        for attempt in range(1, _START_ATTEMPTS + 1):
            # The port is free now but another process may grab it before postgres binds it;
            # that race is why a failed bind is retried with a new port.
            server.port = _free_port()
            options = (
                f"-p {server.port} -k {shlex.quote(str(sock_dir))} "
                "-c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off"
            )
            proc = _run(
                [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-w", "-t", "60"]
                + ["-o", options, "-l", str(server.log_file), "start"],
                run_as=run_as,
                cwd=tmp,
                check=False,
            )
            if proc.returncode == 0:
                break
            log = server.log_tail()
            if attempt < _START_ATTEMPTS and "could not bind" in log:
                continue
            raise RuntimeError(
                f"pg_ctl start failed (exit code {proc.returncode}) on port {server.port}\n"
                f"stdout:\n{proc.stdout.strip()}\nstderr:\n{proc.stderr.strip()}\n"
                f"server log tail:\n{log}"
            )

        deadline = time.monotonic() + 30
        while True:
            try:
                _create_database(server.host, server.port, server.dbname)
                break
            except Exception as exc:
                # pg_ctl -w can return while the server still rejects connections briefly
                # (e.g. "the database system is starting up").
                if time.monotonic() > deadline or "starting up" not in str(exc):
                    raise RuntimeError(
                        f"could not create database {server.dbname!r} on port "
                        f"{server.port}: {exc}\nserver log tail:\n{server.log_tail()}"
                    ) from exc
                time.sleep(0.1)
        return server
    except BaseException:
        if server is not None:
            server.stop()
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            for extra in extra_dirs:
                shutil.rmtree(extra, ignore_errors=True)
        raise
