"""Reading a large project's manifest: the runner's reader against `json.loads` of the file.

Every command reads dbt's `target/manifest.json`. This benchmark writes a project of one
documented model, has dbt parse it, and grows its manifest to --models models by copying that
dbt-written node (each with --columns documented columns and a longer SQL), as a large dbt
project's manifest is mostly its nodes' SQL, columns and docs. It then reads the file in fresh
processes, interleaved --repeat times:

- `json.loads` of the whole file (what every command did before `manifest_reader.py`),
- `read_manifest` (an entry at a time, each node cut to the keys the runner reads).

Printed: the file's size, each reading's median wall time (the child's own clock around the
read, and the process's) and highest peak RSS (the child's ru_maxrss), their ratios, and the load
average. No timing is asserted; the exit code is 1 only when the reader's result differs from
the whole parse cut down the same way.

    .venv/bin/python benchmarks/bench_manifest.py
    .venv/bin/python benchmarks/bench_manifest.py --models 5000 --columns 30 --repeat 3
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from _processes import run_checked, run_measured

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
BIN = Path(sys.executable).parent
PROJECT = "manifest_bench"

# the child: reads the manifest one way and prints the read's own time
READ = """
import json, sys, time
from pathlib import Path
from dbt_segment_profiles.manifest_reader import read_manifest
path = Path(sys.argv[2])
started = time.perf_counter()
if sys.argv[1] == "whole":
    manifest = json.loads(path.read_text("utf-8"))
else:
    manifest = read_manifest(path)
print(time.perf_counter() - started, len(manifest["nodes"]))
"""


def write_project(root: Path, columns: int) -> None:
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        f"name: {PROJECT}\nversion: '1.0'\nconfig-version: 2\nprofile: {PROJECT}\n"
    )
    (root / "profiles.yml").write_text(
        f"{PROJECT}:\n  target: duckdb\n  outputs:\n    duckdb:\n      type: duckdb\n"
        f"      path: {root / 'bench.duckdb'}\n"
    )
    select = ",\n".join(f"  i as col_{c}" for c in range(columns))
    (root / "models" / "documented.sql").write_text(
        f"-- a model as a large project has them\nselect\n{select}\nfrom range(10) as t(i)\n"
    )
    described = [
        {"name": f"col_{c}", "description": f"What column {c} holds, and where it comes from."}
        for c in range(columns)
    ]
    schema = {
        "version": 2,
        "models": [
            {"name": "documented", "description": "A documented model.", "columns": described}
        ],
    }
    (root / "models" / "schema.yml").write_text(json.dumps(schema))


def grown_manifest(manifest: dict, models: int) -> dict:
    """The manifest with `models` copies of its one model, each with a longer SQL."""
    template = next(n for n in manifest["nodes"].values() if n["resource_type"] == "model")
    for number in range(models):
        node = copy.deepcopy(template)
        name = f"documented_{number}"
        node["name"], node["alias"] = name, name
        node["unique_id"] = f"model.{PROJECT}.{name}"
        node["raw_code"] = template["raw_code"] * 5
        node["compiled_code"] = template["raw_code"] * 5
        manifest["nodes"][node["unique_id"]] = node
        manifest["parent_map"][node["unique_id"]] = []
        manifest["child_map"][node["unique_id"]] = []
    return manifest


def check_same(path: Path) -> bool:
    sys.path.insert(0, str(REPO_ROOT / "python"))
    from dbt_segment_profiles.manifest_reader import kept_node, read_manifest

    whole = json.loads(path.read_text("utf-8"))
    cut = {
        "metadata": whole["metadata"],
        "nodes": {key: kept_node(node) for key, node in whole["nodes"].items()},
    }
    return read_manifest(path) == cut


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=5_000, help="models in the manifest")
    parser.add_argument("--columns", type=int, default=30, help="documented columns per model")
    parser.add_argument("--repeat", type=int, default=3, help="reads per way (median)")
    parser.add_argument("--grow", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.grow is not None:
        manifest = grown_manifest(json.loads(args.grow.read_text("utf-8")), args.models)
        args.grow.write_text(json.dumps(manifest), "utf-8")
        return 0
    print(f"load average at the start: {load()} on {os.cpu_count()} CPUs", flush=True)
    env = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT / "python"), env.get("PYTHONPATH")) if p
    )
    with tempfile.TemporaryDirectory(prefix="segment-manifest-") as temp:
        root = Path(temp) / "project"
        write_project(root, args.columns)
        flags = ["--project-dir", str(root), "--profiles-dir", str(root)]
        run_checked([str(BIN / "dbt"), "parse", *flags], env, root)
        path = root / "target" / "manifest.json"
        # grown in a child: a child's ru_maxrss starts at this process's RSS when it forks
        grow = [sys.executable, __file__, "--grow", str(path), "--models", str(args.models)]
        run_checked(grow, env, root)
        size_mb = path.stat().st_size / 1e6
        print(f"manifest: {args.models:,} models of {args.columns} columns, {size_mb:.1f} MB")
        reads: dict[str, list[float]] = {"whole": [], "reader": []}
        walls: dict[str, list[float]] = {"whole": [], "reader": []}
        peaks: dict[str, list[float]] = {"whole": [], "reader": []}
        for attempt in range(args.repeat):
            for way in reads:
                command = [sys.executable, "-c", READ, way, str(path)]
                run = run_measured(command, env, root, Path(temp), f"{way}_{attempt}")
                if run.returncode != 0:
                    sys.exit(f"{way} failed ({run.returncode}):\n{run.stderr}")
                seconds, nodes = run.stdout.split()
                reads[way].append(float(seconds))
                walls[way].append(run.wall_seconds)
                peaks[way].append(run.peak_rss_mb)
        same = check_same(path)  # last: this process then holds the manifest
    print()
    print("| reading | read | process wall | peak RSS |")
    print("|---|---|---|---|")
    for way, label in (("whole", "`json.loads`, whole"), ("reader", "`read_manifest`")):
        read, wall = statistics.median(reads[way]), statistics.median(walls[way])
        print(f"| {label} | {read:.2f} s | {wall:.2f} s | {max(peaks[way]):.0f} MB |")
    read_ratio = statistics.median(reads["reader"]) / statistics.median(reads["whole"])
    peak_ratio = max(peaks["reader"]) / max(peaks["whole"])
    print(
        f"\nreader against whole: read time {read_ratio:.2f}x, peak RSS {peak_ratio:.2f}x "
        f"(medians of {args.repeat}, highest peaks); {nodes} nodes"
    )
    print(f"the same result as the whole parse cut down: {same}")
    print(f"load average at the end: {load()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
