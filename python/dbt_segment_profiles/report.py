"""What the commands print: plain lines for people, JSON for machines."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from .errors import ConfigProblem
from .mappings import Mapping


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{op} {n}" for op, n in counts.items())


class Reporter:
    def __init__(self, json_output: bool = False, quiet: bool = False, out: TextIO | None = None):
        self.json_output = json_output
        self.quiet = quiet
        self.out = out or sys.stdout
        self.err = sys.stderr
        self._last_progress = 0.0
        self._progress_mapping: str | None = None
        self._progress_started = 0.0
        self._tty = self.err.isatty() and not json_output and not quiet

    def _print(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def _json(self, document: Any) -> None:
        print(json.dumps(document, indent=2, default=str), file=self.out, flush=True)

    def error(self, message: str) -> None:
        if self.json_output:
            self._json({"error": message})
        else:
            print(f"error: {message}", file=self.err, flush=True)

    def warn(self, message: str) -> None:
        if not self.json_output:
            print(f"warning: {message}", file=self.err, flush=True)

    def note(self, message: str) -> None:
        if self.json_output:
            self._json({"note": message})
        elif not self.quiet:
            self._print(message)

    def config_problems(self, problems: list[ConfigProblem], hint: str) -> None:
        if self.json_output:
            self._json({"problems": [p.__dict__ for p in problems], "hint": hint})
            return
        print(f"{len(problems)} problem(s) in the Segment config:", file=self.err)
        for problem in problems:
            print(f"  - {problem}", file=self.err)
        if hint:
            print(f"  -> {hint}", file=self.err)
        print("nothing was sent", file=self.err, flush=True)

    def validated(self, mappings: list[Mapping]) -> None:
        if self.json_output:
            self._json({"valid": True, "mappings": [m.name for m in mappings]})
            return
        for m in mappings:
            self._print(f"ok  {m.name} ({m.model_name}, {m.action} -> {m.profile_space})")
        self._print(f"{len(mappings)} mapping(s) valid")

    def progress(self, result: Any, total: int) -> None:
        """A bar with rows per second and an ETA on a terminal; a line every 10 s elsewhere."""
        if self.json_output or self.quiet:
            return
        now = time.monotonic()
        key = result.mapping
        if key != self._progress_mapping:
            self._progress_mapping, self._progress_started = key, now
        if now - self._last_progress < (0.2 if self._tty else 10.0):
            return
        self._last_progress = now
        done = result.acknowledged + result.rejected + result.failed
        elapsed = max(now - self._progress_started, 1e-6)
        rate = done / elapsed
        eta = (total - done) / rate if rate > 0 else 0.0
        if self._tty:
            share = done / total if total else 1.0
            bar = "#" * int(share * 30)
            print(
                f"\r{key}: [{bar:<30}] {done}/{total} {rate:,.0f} rows/s ETA {eta:,.0f}s ",
                end="",
                file=self.err,
                flush=True,
            )
        else:
            print(
                f"{key}: {done}/{total} rows, {rate:,.0f} rows/s, ETA {eta:,.0f}s",
                file=self.err,
                flush=True,
            )

    def plan(self, plans: list[Any]) -> None:
        if self.json_output:
            self._json({"plans": [p.__dict__ for p in plans]})
            return
        for p in plans:
            self._print(f"{p.mapping} ({p.model}, {p.action} -> {p.profile_space})")
            self._print(f"  pending: {_counts(p.pending)}; invalid keys: {p.invalid_keys}")
            if p.blocked:
                self._print(f"  blocked: {p.blocked}")
            for sample in p.samples:
                self._print("  " + json.dumps(sample, ensure_ascii=False))
            for rejected in p.rejected_samples:
                self._print(f"  rejected {rejected['key']}: {rejected['reason']}")

    def report_written(self, path: Any) -> None:
        if self.json_output:
            self._json({"report": str(path)})
        else:
            self._print(f"wrote {path}")

    def sync_result(self, result: Any) -> None:
        if self._tty:
            print("", file=self.err)
        if self.json_output:
            from .results import results_document

            self._json(results_document(result))
            return
        for m in result.mappings:
            self._print(
                f"{m.mapping} ({m.model}, {m.action} -> {m.profile_space}): "
                f"pending {_counts(m.pending)}; sent {m.sent}, acknowledged {m.acknowledged}, "
                f"rejected {m.rejected}, failed {m.failed}; invalid keys {m.invalid_keys} "
                f"[{m.duration_seconds:.1f}s]"
            )
            if m.error:
                self._print(f"  error: {m.error}")
            if m.region_note:
                self._print(f"  note: {m.region_note}")
            for reason in m.reasons:
                self._print(f"  reason: {reason}")
        status = {
            0: "all changes acknowledged",
            1: "some rows stay pending",
            2: "some mappings are blocked (see above); the others were sent",
            130: "interrupted",
        }
        self._print(
            f"done in {result.duration_seconds:.1f}s: {status.get(result.exit_code, '')}"
            f" (exit {result.exit_code})"
        )

    def reset(
        self,
        mapping: Mapping,
        rebaseline: bool,
        pending: dict[str, int],
        swallowed: dict[str, int] | None = None,
    ) -> None:
        """`swallowed`: with rebaseline, the pending changes marked as sent without sending."""
        if self.json_output:
            document = {"reset": mapping.name, "rebaseline": rebaseline, "pending": pending}
            if swallowed is not None:
                document["marked_sent_without_sending"] = swallowed
            self._json(document)
            return
        how = "current rows taken as synced" if rebaseline else "every row will be sent again"
        if swallowed is not None:
            how += (
                f" ({sum(swallowed.values())} pending change(s) marked as sent without sending:"
                f" {_counts(swallowed)})"
            )
        self._print(f"{mapping.name}: reset, {how}; pending now: {_counts(pending)}")

    def renamed(self, old: str, new: str) -> None:
        if self.json_output:
            self._json({"renamed": old, "to": new})
            return
        self._print(f"{old} -> {new}: state, history and fingerprint moved; run `dbt run` next")

    def pruned(self, orphans: list[Any], dropped: bool) -> None:
        if self.json_output:
            self._json({"orphans": [o.__dict__ for o in orphans], "dropped": dropped})
            return
        if not orphans:
            self._print("no bookkeeping of undeclared mappings")
            return
        for o in orphans:
            self._print(f"{o.name}: tables {', '.join(o.tables) or '-'}; issues {o.issues}")
        if dropped:
            self._print(f"dropped the bookkeeping of {len(orphans)} mapping(s); runs are kept")
        else:
            self._print("nothing dropped: run `dbt-segment prune --yes` to drop the above")

    def status(self, runs: list[dict[str, Any]], orphans: list[Any] | None = None) -> None:
        orphans = orphans or []
        if self.json_output:
            self._json({"runs": runs, "orphans": [o.name for o in orphans]})
            return
        for o in orphans:
            self._print(
                f"orphan {o.name}: its bookkeeping is kept but no mapping declares it "
                "(`dbt-segment rename` or `dbt-segment prune`)"
            )
        if not runs:
            self._print("no sync runs recorded yet")
        for run in runs:
            self._print(
                f"{run['mapping_name']}  {run['started_at']}  {run['status']}: "
                f"sent {run['sent']}, acknowledged {run['acknowledged']}, "
                f"rejected {run['rejected']}, failed {run['failed']}"
            )
