"""What the commands print: plain lines for people, JSON for machines."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from .errors import ConfigProblem
from .logs import LOGGER
from .mappings import Mapping
from .reporting.progress import ProgressLine, ProgressMeter
from .reporting.tables import table, utc, utc_short

_RUN_COUNTS = ("sent", "acknowledged", "rejected", "failed")


def _now(now: float | None) -> float:
    return time.monotonic() if now is None else now


def _hosts(spaces: dict[str, Any] | None) -> dict[str, str]:
    """Where each profile space sends: a sandbox or proxy shows as itself, not as Segment."""
    return {name: space.base_url for name, space in (spaces or {}).items()}


def _record_text(record: dict[str, Any]) -> str:
    if not record["found"]:
        return f"  key {record['key']}: no such row in the model, and nothing pending for it"
    state = "pending" if record["pending"] else "not pending (as its next change would be sent)"
    head = f"  key {record['key']}: {record['operation']}, {state}"
    if "rejected" in record:
        return f"{head}\n  rejected: {record['rejected']}"
    return f"{head}\n  " + json.dumps(record["message"], ensure_ascii=False, indent=2).replace(
        "\n", "\n  "
    )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{op} {n}" for op, n in counts.items())


class Reporter:
    def __init__(self, json_output: bool = False, quiet: bool = False, out: TextIO | None = None):
        self.json_output = json_output
        self.quiet = quiet
        self.out = out or sys.stdout
        self.err = sys.stderr
        self._tty = self.err.isatty() and not json_output and not quiet
        # with --log-format json, progress lines go through the log as JSON objects too
        self.structured_logs = False

    def _print(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def _json(self, document: Any) -> None:
        print(json.dumps(document, indent=2, default=str), file=self.out, flush=True)

    # errors, warnings and notes go to the log (stderr and the log file, in --log-format);
    # with --json, stdout carries one JSON document with the error too

    def error(self, message: str, exit_code: int = 2) -> None:
        LOGGER.error(message)
        if self.json_output:
            self._json({"error": message, "exit_code": exit_code})

    def warn(self, message: str) -> None:
        LOGGER.warning(message)

    def note(self, message: str) -> None:
        if self.json_output:
            LOGGER.info(message)
        elif not self.quiet:
            self._print(message)

    def config_problems(self, problems: list[ConfigProblem], hint: str) -> None:
        lines = [f"{len(problems)} problem(s) in the Segment config:"]
        lines += [f"  - {problem}" for problem in problems]
        if hint:
            lines.append(f"  -> {hint}")
        LOGGER.error("\n".join(lines + ["nothing was sent"]))
        if self.json_output:
            self._json({"problems": [p.__dict__ for p in problems], "hint": hint, "exit_code": 2})

    def validated(self, mappings: list[Mapping], spaces: dict[str, Any] | None = None) -> None:
        hosts = _hosts(spaces)
        if self.json_output:
            self._json(
                {
                    "valid": True,
                    "exit_code": 0,
                    "mappings": [m.name for m in mappings],
                    "destinations": {m.name: hosts.get(m.profile_space) for m in mappings},
                }
            )
            return
        for m in mappings:
            self._print(
                f"ok  {m.name} ({m.model_name}, {m.action} -> {m.profile_space} at "
                f"{hosts.get(m.profile_space, '?')})"
            )
        self._print(f"{len(mappings)} mapping(s) valid")

    def progress(self, result: Any, total: int, now: float | None = None) -> None:
        """After each settled batch of a mapping (`total`: its pending rows): a bar on a
        terminal, a line every 10 s elsewhere, and always a mapping's first and last line.
        `now`: seconds on the monotonic clock (default: read it)."""
        self._progress_lines(self._progress_meter().update(result, total, _now(now)))

    def progress_start(self, result: Any, total: int, now: float | None = None) -> None:
        """The mapping starts sending: its rows per second count from now."""
        self._progress_lines(self._progress_meter().start(result, total, _now(now)))

    def progress_done(self, result: Any, total: int, now: float | None = None) -> None:
        """The mapping is over (also when stopped early): its last line, once."""
        lines = self._progress_meter().update(result, total, _now(now), finished=True)
        self._progress_lines(lines)

    def _progress_meter(self) -> ProgressMeter:
        meter: ProgressMeter | None = getattr(self, "_meter", None)
        if meter is None:
            meter = self._meter = ProgressMeter(interval=0.2 if self._tty else 10.0)
        return meter

    def _progress_lines(self, lines: list[ProgressLine]) -> None:
        if self.json_output or self.quiet:
            return
        for line in lines:
            if self._tty:
                end = "\n" if line.final else ""
                print(f"\r{line.bar()}\x1b[K", end=end, file=self.err, flush=True)
            elif self.structured_logs:
                LOGGER.info(line.text())
            else:
                print(line.text(), file=self.err, flush=True)

    def plan(self, plans: list[Any], spaces: dict[str, Any] | None = None) -> None:
        hosts = _hosts(spaces)
        if self.json_output:
            documents = [{**p.__dict__, "destination": hosts.get(p.profile_space)} for p in plans]
            code = 2 if any(p.blocked for p in plans) else 0
            self._json({"plans": documents, "exit_code": code})
            return
        for p in plans:
            self._print(
                f"{p.mapping} ({p.model}, {p.action} -> {p.profile_space} at "
                f"{hosts.get(p.profile_space, '?')})"
            )
            self._print(f"  pending: {_counts(p.pending)}; invalid keys: {p.invalid_keys}")
            if p.blocked:
                self._print(f"  blocked: {p.blocked}")
            if p.record is not None:
                self._print(_record_text(p.record))
            for sample in p.samples:
                self._print("  " + json.dumps(sample, ensure_ascii=False))
            for rejected in p.rejected_samples:
                self._print(f"  rejected {rejected['key']}: {rejected['reason']}")

    def spaces(self, listings: list[Any]) -> None:
        """`dbt-segment spaces`: per profile space with a token, the sources it sees."""
        code = 2 if any(listing.problem for listing in listings) else 0
        if self.json_output:
            self._json({"profile_spaces": [x.to_dict() for x in listings], "exit_code": code})
            return
        for listing in listings:
            self._print(
                f"profile space {listing.profile_space} (region {listing.region}, "
                f"{listing.public_api}, token from {listing.token_env}): "
                f"{len(listing.sources)} source(s)"
            )
            rows = [
                [
                    "*" if listing.source in (s.name, s.slug, s.id) else "",
                    s.name,
                    s.slug,
                    s.kind,
                    "" if s.enabled else "disabled",
                ]
                for s in listing.sources
            ]
            for line in table(["", "name", "slug", "kind", ""], rows, numeric=set()):
                self._print("  " + line)
            if listing.problem:
                LOGGER.error(listing.problem)
            else:
                self._print(f"  * source: {listing.source!r}, its write key is used")

    def report_written(self, path: Any) -> None:
        if self.json_output:
            self._json({"report": str(path)})
        else:
            self._print(f"wrote {path}")

    def sync_result(self, result: Any) -> None:
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

    def run_result(self, result: Any) -> None:
        """`dbt-segment run`: dbt's outcome and the sync of what it built."""
        if self.json_output:
            from .results import results_document

            document: dict[str, Any] = {
                "dbt": {
                    "exit_code": result.dbt.exit_code,
                    "built": sorted(result.dbt.built),
                    "error": result.dbt.error,
                },
                "exit_code": result.exit_code,
            }
            if result.sync is not None:
                document.update(results_document(result.sync))
                document["exit_code"] = result.exit_code
            self._json(document)
            return
        if result.sync is not None:
            self.sync_result(result.sync)
        if result.dbt.exit_code:
            self._print(f"dbt run failed (exit {result.dbt.exit_code}): exit {result.exit_code}")

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

    def status(
        self,
        runs: list[dict[str, Any]],
        orphans: list[Any] | None = None,
        last_errors: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """The last runs as a table (times in UTC), orphaned bookkeeping, and per mapping the
        reason its rows were last rejected or failed (`last_errors`, from status.last_errors)."""
        orphans = orphans or []
        last_errors = last_errors or {}
        if self.json_output:
            self._json(
                {
                    "runs": [{k: utc(v) for k, v in run.items()} for run in runs],
                    "orphans": [o.name for o in orphans],
                    "last_errors": last_errors,
                }
            )
            return
        for o in orphans:
            self._print(
                f"orphan {o.name}: its bookkeeping is kept but no mapping declares it "
                "(`dbt-segment rename` or `dbt-segment prune`)"
            )
        if not runs:
            self._print("no sync runs recorded yet")
        else:
            columns = ("mapping_name", "started_at", "status", *_RUN_COUNTS)
            rows = [
                [run["mapping_name"], utc_short(run["started_at"]), run["status"]]
                + [run[c] for c in _RUN_COUNTS]
                for run in runs
            ]
            headers = ["mapping", "started (UTC)", "status", *_RUN_COUNTS]
            for line in table(headers, rows, numeric=set(range(3, len(columns)))):
                self._print(line)
        if last_errors:
            self._print("")
            self._print("rows still pending with an issue, and the last reason recorded:")
            for name, error in last_errors.items():
                reason = " ".join(str(error["reason"]).split())
                if len(reason) > 300:
                    reason = reason[:297] + "..."
                self._print(f"  {name}: {error['rows']:,} row(s); last {error['kind']}: {reason}")
