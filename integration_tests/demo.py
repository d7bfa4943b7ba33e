"""`make demo`: two days of jaffle_shop customers synced to a local sandbox, no write key needed.

Day 1 sends every customer as added; day 2 changes three, adds three and removes two, and only
those changes are sent.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`dbt ...` or `dbt-segment ...` as a shell in this directory runs it, but in this process:
    dbt is imported once, not by each of the eight commands (about 4 s of CPU each)."""
    from dbt.cli.main import dbtRunner

    from dbt_segment_profiles.cli import main as segment_main

    print(f"$ {' '.join(args)}", flush=True)
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        if args[0] == "dbt":
            result = dbtRunner().invoke(list(args[1:]))
            code = 0 if result.success else 1
        else:
            code = segment_main(list(args[1:]))
    done = subprocess.CompletedProcess(args, code, stdout.getvalue(), stderr.getvalue())
    if check and done.returncode != 0:
        sys.exit(f"{args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def start_sandbox(workdir: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str, Path]:
    port_file = workdir / "sandbox.port"
    received = workdir / "received.jsonl"
    process = subprocess.Popen(
        [
            str(BIN / "dbt-segment"),
            "sandbox",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--output",
            str(received),
            # the Public API too: the Profile Spaces a token sees, two sources a page
            "--public-source",
            "Demo Profile Space",
            "--public-source",
            "Staging Profile Space",
            "--public-api-token",
            "demo-public-api-token",
            "--public-page-size",
            "2",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text().strip()):
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit("the sandbox did not start")
        time.sleep(0.05)
    return process, f"http://127.0.0.1:{port_file.read_text().strip()}", received


def sync(received: Path, seen: int, title: str) -> int:
    done = run("dbt-segment", "sync", "--json", check=False)
    if done.returncode not in (0, 1):
        sys.exit(f"sync failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    document = json.loads(done.stdout)
    lines = received.read_text().splitlines() if received.exists() else []
    new = lines[seen:]
    print(f"\n{title}: what was sent")
    for m in document["results"]:
        by_op = ", ".join(f"{op} {n}" for op, n in m["acknowledged_by_operation"].items())
        print(
            f"  {m['mapping']} ({m['action']}): {by_op or 'nothing'}"
            f" | rejected {m['rejected']}, failed {m['failed']}, invalid keys {m['invalid_keys']}"
        )
    acknowledged = sum(m["acknowledged"] for m in document["results"])
    print(
        f"  the sandbox received {len(new)} message(s); Segment-style acknowledgements: "
        f"{acknowledged}"
    )
    if len(new) != acknowledged:
        sys.exit("the sandbox and the sync disagree")
    if new:
        print("  one message as sent:")
        print("  " + json.dumps(json.loads(new[0]), indent=2).replace("\n", "\n  "))
    return len(lines)


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="segment-demo-"))
    env = dict(os.environ)
    env.update(
        SEGMENT_DEMO_DB=str(workdir / "demo.duckdb"),
        SEGMENT_DEMO_WRITE_KEY="demo-write-key",
        SEGMENT_DEMO_PUBLIC_API_TOKEN="demo-public-api-token",
        DBT_PROFILES_DIR=str(HERE),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    sandbox, url, received = start_sandbox(workdir, env)
    env["SEGMENT_DEMO_ENDPOINT"] = url
    print(f"sandbox listening on {url}; messages go to {received}")
    # the commands below run in this process, as a shell in this directory with env would
    os.environ.update(env)
    os.chdir(HERE)
    try:
        run("dbt", "deps")
        run("dbt", "seed")
        run("dbt", "run")
        seen = sync(received, 0, "day 1")

        print("\nthe Profile Spaces the demo's Public API token can see (profile space by_name):")
        print(run("dbt-segment", "spaces").stdout.rstrip())

        print("\nday 2: three customers renamed, three new, two removed")
        run("dbt", "run", "--vars", "{demo_day: 2}")
        seen = sync(received, seen, "day 2")

        sync(received, seen, "day 2, sync again without a new dbt run")
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
    print("\ndemo done: the sandbox is stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
