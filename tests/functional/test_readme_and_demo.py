"""The README's examples and `make demo` run, and say what the data says."""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dbt_segment_profiles.sandbox import Sandbox
from segment_testing import REPO_ROOT, release_duckdb

# both tests run the demo project of integration_tests/ (a minute or more each): one worker
# takes the module (xdist's loadscope keeps a module's functions together), before the rest
pytestmark = pytest.mark.slow

README = (REPO_ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    commands = [
        line.split("#")[0].strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip().startswith("dbt-segment ")
    ]
    commands += re.findall(r"`(dbt-segment run [^`]+)`", README)
    return commands


def readme_python() -> str:
    (snippet,) = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    return snippet


@pytest.fixture
def demo_project(tmp_path: Path) -> Path:
    project = tmp_path / "integration_tests"
    shutil.copytree(
        REPO_ROOT / "integration_tests",
        project,
        ignore=shutil.ignore_patterns("target", "dbt_packages", "logs", "package-lock.yml"),
    )
    (project / "packages.yml").write_text(f"packages:\n  - local: {REPO_ROOT}\n")
    return project


@functools.cache
def demo_script() -> Any:
    spec = importlib.util.spec_from_file_location("demo", REPO_ROOT / "integration_tests/demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    return demo


def in_process(command: list[str]) -> str:
    """A `dbt` or `dbt-segment` command run as the console script would, in this process (whose
    dbt is imported already: a new process spends about 4 s of CPU importing it), by the demo's
    own runner; its stdout."""
    done = demo_script().run(*command, check=False)
    assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.duckdb_only
def test_readme_commands_and_python_api_run_on_the_demo_project(
    demo_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Sandbox(output=tmp_path / "received.jsonl") as box:
        variables = dict(
            SEGMENT_DEMO_DB=str(tmp_path / "demo.duckdb"),
            SEGMENT_DEMO_WRITE_KEY="readme-key",
            SEGMENT_DEMO_ENDPOINT=box.url,
            DBT_PROFILES_DIR=str(demo_project),
        )
        env = {**os.environ, **variables}
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(demo_project)

        def run(*args: str, cwd: Path = demo_project) -> subprocess.CompletedProcess[str]:
            release_duckdb()  # dbt in this process keeps the file open; the child needs it
            done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
            assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
            return done

        for step in ("deps", "seed", "run"):
            in_process(["dbt", step])
        commands = readme_commands()
        assert [c.split()[1] for c in commands] == [
            "validate",
            "plan",
            "sync",
            "status",
            "report",
            "run",
        ]
        # `sync` through the installed console script, in a process of its own as a shell runs
        # it; the other commands in this one
        outputs = {}
        for command in commands:
            program, name, *rest = command.split()
            outputs[name] = (
                run(str(BIN / program), name, *rest).stdout
                if name == "sync"
                else in_process([program, name, *rest])
            )
        assert "customers_to_profiles (dim_customers, identify -> default)" in outputs["sync"]
        assert "2 mapping(s) valid" in outputs["validate"]
        report = demo_project / "target" / "segment_report.html"
        assert outputs["report"].strip() == f"wrote {report}"
        assert 'data-mapping="customers_to_profiles"' in report.read_text()
        assert box.stats.snapshot()["accepted_messages"] == 200

        script = tmp_path / "api_example.py"
        script.write_text(readme_python())
        done = run(sys.executable, str(script), cwd=tmp_path)
        lines = done.stdout.splitlines()
        assert lines[0] == "[]"  # validate: no problems
        assert (
            "('customers_to_profiles', {'added': 0, 'updated': 0, 'deleted': 0}, None)"
            in (lines[1])
        )
        at = lines.index("customers_to_profiles 0 0 0")
        assert lines[at + 1].startswith("0 ")
        assert lines[-1] == "0 0"  # dbt run, then its sync: both exit 0


def parse_demo_output(text: str) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in text.splitlines():
        if line.endswith(": what was sent"):
            current = sections.setdefault(line.removesuffix(": what was sent"), {})
        match = re.match(r"  (\w+) \((\w+)\): (.*?) \|", line)
        if match:
            current[match.group(1)] = match.group(3)
    return sections


@pytest.mark.duckdb_only
def test_make_demo_runs_and_its_counts_match_its_data() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "integration_tests" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sections = parse_demo_output(done.stdout)
    customers = (
        len((REPO_ROOT / "integration_tests/seeds/raw_customers.csv").read_text().split()) - 1
    )
    assert sections["day 1"] == {
        "customers_to_profiles": f"added {customers}, updated 0, deleted 0",
        "customer_signed_up": f"added {customers}, updated 0, deleted 0",
    }
    changes = (REPO_ROOT / "integration_tests/seeds/customer_changes.csv").read_text()
    counts = {kind: changes.count(f",{kind},") for kind in ("insert", "update", "delete")}
    assert sections["day 2"] == {
        "customers_to_profiles": (
            f"added {counts['insert']}, updated {counts['update']}, deleted {counts['delete']}"
        ),
        "customer_signed_up": f"added {counts['insert']}, updated 0, deleted 0",
    }
    assert set(sections["day 2, sync again without a new dbt run"].values()) == {
        "added 0, updated 0, deleted 0"
    }
    assert '"type": "identify"' in done.stdout and "the sandbox is stopped" in done.stdout
    # the sandbox's Public API: the demo token's Profile Spaces, over two pages
    assert "*  Demo Profile Space" in done.stdout and "Staging Profile Space" in done.stdout
