"""`dbt-segment sandbox`: run the sandbox until stopped."""

from __future__ import annotations

import argparse
import dataclasses
import errno
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from .faults import Faults
from .public_api import public_source
from .server import Sandbox


class SandboxUnavailable(Exception):
    """The sandbox could not start; the message says why in one line, for people."""


def _why_not_started(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"{host}:{port} is already in use; pick another with --port"
    if exc.filename is not None:  # the --output file
        return f"cannot open {exc.filename}: {exc.strerror}"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def run_sandbox(
    host: str = "127.0.0.1",
    port: int = 0,
    output: str | Path | None = None,
    write_key: str | None = None,
    count_only: bool = False,
    faults: Faults | None = None,
    port_file: str | Path | None = None,
    stop: threading.Event | None = None,
    public_sources: list[dict[str, Any]] | None = None,
    public_api_token: str | None = None,
    public_page_size: int | None = None,
) -> dict[str, Any]:
    """Serve until SIGINT/SIGTERM (or `stop` is set); returns the final stats snapshot.
    Raises SandboxUnavailable when it cannot start (the port is taken, say)."""
    stop = stop or threading.Event()
    try:
        sandbox = Sandbox(
            host,
            port,
            output,
            write_key,
            count_only,
            faults,
            public_sources,
            public_api_token,
            public_page_size,
        ).start()
    except OSError as exc:
        raise SandboxUnavailable(_why_not_started(host, port, exc)) from None
    # The handler only flips a flag: Event.set() takes a lock the interrupted thread may hold.
    signalled: list[int] = []
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda num, _: signalled.append(num))
    try:
        if port_file is not None:
            # Write then rename, so a poller never reads a half-written port.
            tmp = Path(f"{port_file}.tmp")
            tmp.write_text(f"{sandbox.port}\n")
            os.replace(tmp, port_file)
        print(f"sandbox listening on {sandbox.url}", flush=True)
        while not signalled and not stop.wait(0.2):
            pass
    finally:
        sandbox.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    snap = sandbox.stats.snapshot()
    print(
        f"sandbox stopped: {snap['requests']} requests, {snap['accepted_messages']} messages "
        f"accepted in {snap['accepted_batches']} batches, {snap['rejected_requests']} rejected "
        f"({snap['dropped']} dropped), {snap['duplicate_messages']} duplicate messageIds",
        flush=True,
    )
    return snap


def add_sandbox_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    add("--port", type=int, default=0, help="port (default 0: a free port)")
    add("--output", type=Path, help="append each accepted message to this JSONL file")
    add("--write-key", help="expected write key; others get 401 (default: any non-empty key)")
    add("--count-only", action="store_true", help="only count messages (for benchmarks)")
    add("--fail-429", type=float, default=0.0, help="share of requests answered 429")
    add("--fail-500", type=float, default=0.0, help="share of requests answered 500")
    add("--fail-200", type=float, default=0.0, help="share answered 200 with an error body")
    add("--drop", type=float, default=0.0, help="share of requests dropped without an answer")
    add(
        "--lose-answer",
        type=float,
        default=0.0,
        help="share of batches taken, then left without an answer (the client cannot tell)",
    )
    add("--latency-ms", type=float, default=0.0, help="delay before every answer")
    add("--retry-after", type=float, default=1.0, help="Retry-After seconds on injected 429s")
    add("--always-status", type=int, help="answer every request with this 4xx/5xx code")
    add(
        "--echo-authorization",
        action="store_true",
        help="injected answers quote the Authorization header (for secrecy tests)",
    )
    add("--seed", type=int, default=0, help="seed for the fault draws")
    add("--port-file", type=Path, help="write the port to this file once listening")
    add(
        "--public-source",
        action="append",
        default=[],
        metavar="NAME",
        help="serve the Public API's GET /sources with a Profile Space source of this name "
        "(repeatable); its write key is --write-key's, or sandbox-<slug>",
    )
    add(
        "--public-sources",
        type=Path,
        metavar="FILE",
        help="a JSON list of sources, as the Public API lists them, to serve on GET /sources",
    )
    add("--public-api-token", help="expected Bearer token on GET /sources (default: any)")
    add("--public-page-size", type=int, help="at most this many sources a page")


def public_sources_from(args: argparse.Namespace) -> list[dict[str, Any]] | None:
    """The sources GET /sources serves, from --public-sources and --public-source; None when
    neither is given (no Public API stand-in)."""
    import json

    if args.public_sources is None and not args.public_source:
        return None
    sources: list[dict[str, Any]] = []
    if args.public_sources is not None:
        loaded = json.loads(Path(args.public_sources).read_text())
        if not isinstance(loaded, list) or not all(isinstance(s, dict) for s in loaded):
            raise ValueError(f"{args.public_sources} must hold a JSON list of sources")
        sources += loaded
    for name in args.public_source:
        source = public_source(name, "")
        source["writeKeys"] = [args.write_key or f"sandbox-{source['slug']}"]
        sources.append(source)
    return sources


def sandbox_command(args: argparse.Namespace) -> int:
    try:
        faults = Faults(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Faults)})
        public_sources = public_sources_from(args)
    except (ValueError, OSError) as exc:
        print(f"dbt-segment sandbox: {exc}", file=sys.stderr)
        return 2
    try:
        run_sandbox(
            args.host,
            args.port,
            args.output,
            args.write_key,
            args.count_only,
            faults,
            args.port_file,
            public_sources=public_sources,
            public_api_token=args.public_api_token,
            public_page_size=args.public_page_size,
        )
    except SandboxUnavailable as exc:
        print(f"sandbox: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0
