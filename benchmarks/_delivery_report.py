"""The delivery benchmark's report: one markdown table per size, one row per path.

Markdown so that a run's table goes into the README as printed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

# what each kind of row's events/s means
SENT_KINDS = ("sent", "bare", "official")
RECORDED_KINDS = ("rejected", "failed")


@dataclass
class Measurement:
    label: str
    rows: int
    wall_seconds: float  # the child's, interpreter start-up and project loading included
    peak_rss_mb: float
    phase_seconds: float | None  # the sync phase the runner reports; the official client's send
    kind: str = "sent"  # sent | rejected | failed | noop | bare | official
    detail: str = ""
    ok: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """The time events/s is taken over: the wall time, but the official client's send
        phase (its rows are loaded before its clock starts)."""
        if self.kind == "official" and self.phase_seconds is not None:
            return self.phase_seconds
        return self.wall_seconds

    @property
    def per_second(self) -> float | None:
        if self.kind == "noop" or self.seconds <= 0:
            return None
        return self.rows / self.seconds


def load_average() -> str:
    return ", ".join(f"{n:.2f}" for n in os.getloadavg())


def print_report(
    results: dict[str, list[Measurement]], profile: str, command: str, started_load: str
) -> bool:
    """The tables, the ratios the goals name, and whether every count matched."""
    ok = True
    for measured in results.values():
        ok = _print_size(measured, profile) and ok
    print(
        "\nevents/s: rows over the child's wall time, start-up and project loading included "
        "(the bare sender's too); the official client: its send phase, rows preloaded. "
        "Rejected and failed rows: rows recorded per second. Share: of the faster bare run. "
        "Sync phase: elapsed_seconds as `dbt-segment sync --json` reports it (the bare "
        "sender: its own clock, from opening the warehouse); share, phases only: the same "
        "ratio without start-up. Recording alone: no start-up, no reading; its wall time is "
        "its phase."
    )
    print(f"load average (1, 5, 15 min): {started_load} at the start, {load_average()} at the end")
    print(f"on {os.cpu_count()} CPUs; command: {command}")
    return ok


def _print_size(measured: list[Measurement], profile: str) -> bool:
    rows = measured[0].rows
    bare = max((m.per_second or 0.0) for m in measured if m.kind == "bare")
    print(f"\n{profile}, {rows:,} rows per path:\n")
    bare_phase = max(
        (m.rows / m.phase_seconds for m in measured if m.kind == "bare" and m.phase_seconds),
        default=0.0,
    )
    print(
        "| path | rows | events/s | share of bare | wall incl. start-up | sync phase "
        "| share, phases only | peak RSS |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for m in measured:
        rate = m.per_second
        events = "-" if rate is None else f"{rate:,.0f}"
        share = "-" if rate is None or not bare else f"{rate / bare:.2f}"
        phase = "-" if m.phase_seconds is None else f"{m.phase_seconds:.2f} s"
        phase_share = (
            f"{m.rows / m.phase_seconds / bare_phase:.2f}"
            if m.phase_seconds and bare_phase and rate is not None and m.kind != "official"
            else "-"
        )
        print(
            f"| {m.label} | {m.rows:,} | {events} | {share} | {m.wall_seconds:.2f} s | {phase} "
            f"| {phase_share} | {m.peak_rss_mb:.0f} MB |" + ("" if m.ok else " COUNT MISMATCH")
        )
    print()
    sending = next((m for m in measured if m.kind == "sent"), None)
    for m in measured:
        if m.kind in RECORDED_KINDS and sending is not None and m.per_second:
            ratio = m.per_second / (sending.per_second or 1.0)
            phases = ""
            if m.phase_seconds and sending.phase_seconds:
                # recording alone has no start-up: its phase against the sync's is the fair one
                phases = (
                    f"; in the phases, {m.rows / m.phase_seconds:,.0f}/s, "
                    f"{sending.phase_seconds / m.phase_seconds:.2f}x"
                )
            print(
                f"{m.label}: {m.per_second:,.0f} rows recorded/s, {ratio:.2f}x the rate of "
                f"sending as many rows ({sending.label}: {sending.per_second:,.0f} events/s)"
                + phases
            )
    paths = [m for m in measured if m.kind in ("sent", *RECORDED_KINDS)]
    if paths and bare:
        lowest = min(paths, key=lambda m: m.per_second or 0.0)
        print(
            f"lowest share of the bare sender ({bare:,.0f} events/s): "
            f"{(lowest.per_second or 0.0) / bare:.2f} ({lowest.label}); highest peak RSS of a "
            f"sync: {max(m.peak_rss_mb for m in paths):.0f} MB"
        )
    ok = True
    for m in measured:
        for note in m.notes:
            print(f"note: {m.label}: {note}")
        ok = ok and m.ok
    return ok
