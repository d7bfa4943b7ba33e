"""A loopback stand-in for Segment's Tracking API, for tests, demos and throughput benchmarks.

It answers like Segment where Segment is documented and is stricter where Segment silently drops
data (over 2,500 messages, messages without ids), so a client's mistakes show up as 400s.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import hmac
import os
import random
import signal
import socket
import socketserver
import sys
import threading
import time
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO

import orjson

MAX_BODY_BYTES = 512_000
MAX_MESSAGE_BYTES = 32_768
MAX_BATCH_MESSAGES = 2_500
# Oversized bodies up to this size are read and thrown away so the keep-alive connection stays in
# sync; anything bigger is refused unread and the connection is closed.
MAX_DRAIN_BYTES = 16 * 1024 * 1024
MESSAGE_TYPES = frozenset({"identify", "group", "track", "page", "screen", "alias"})
ROUTES: dict[str, str | None] = {
    "/v1/batch": None,
    "/v1/identify": "identify",
    "/v1/track": "track",
    "/v1/group": "group",
}
CODES = {
    400: "invalid_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    411: "length_required",
}
DROP = -1
_OK = orjson.dumps({"success": True})


@dataclasses.dataclass(frozen=True)
class Faults:
    """Injected failures; shares are probabilities per request, drawn from a seeded generator."""

    fail_429: float = 0.0
    fail_500: float = 0.0
    drop: float = 0.0
    latency_ms: float = 0.0
    retry_after: float = 1.0
    always_status: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("fail_429", "fail_500", "drop"):
            share = getattr(self, name)
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {share}")
        if self.fail_429 + self.fail_500 + self.drop > 1.0:
            raise ValueError("fail_429 + fail_500 + drop must not exceed 1")
        if self.latency_ms < 0 or self.retry_after < 0:
            raise ValueError("latency_ms and retry_after must not be negative")
        if self.always_status is not None and not 400 <= self.always_status <= 599:
            raise ValueError(f"always_status must be a 4xx or 5xx code, got {self.always_status}")


class SandboxStats:
    """Counters shared by the handler threads; read them with snapshot() while serving."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.accepted_batches = 0  # accepted requests; a single /v1/track post counts as one
        self.accepted_messages = 0
        self.rejected_requests = 0  # every request not accepted, injected faults included
        self.dropped = 0
        self.connections = 0
        self.statuses: Counter[int] = Counter()
        self.message_ids: Counter[str] = Counter()  # recording mode only

    def _connected(self) -> None:
        with self._lock:
            self.connections += 1

    def _answered(self, status: int, messages: int = 0, ids: list[str] | None = None) -> None:
        with self._lock:
            self.requests += 1
            if status == DROP:
                self.dropped += 1
                self.rejected_requests += 1
                return
            self.statuses[status] += 1
            if status == 200:
                self.accepted_batches += 1
                self.accepted_messages += messages
                if ids:
                    self.message_ids.update(ids)
            else:
                self.rejected_requests += 1

    def duplicates(self) -> dict[str, int]:
        with self._lock:
            return {mid: n for mid, n in self.message_ids.items() if n > 1}

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "accepted_batches": self.accepted_batches,
                "accepted_messages": self.accepted_messages,
                "rejected_requests": self.rejected_requests,
                "dropped": self.dropped,
                "connections": self.connections,
                "statuses": dict(self.statuses),
                "unique_message_ids": len(self.message_ids),
                "duplicate_messages": sum(n - 1 for n in self.message_ids.values() if n > 1),
            }


class _Reject(Exception):
    def __init__(self, status: int, message: str, errors: list[dict] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.payload: dict[str, Any] = {
            "success": False,
            "code": CODES.get(status, "error"),
            "message": message,
        }
        if status == 400:
            self.payload["errors"] = errors or []


def _header_key(value: str | None) -> str | None:
    """The write key from `Authorization: Basic base64("<key>:")`; "" when the header is bad."""
    if not value:
        return None
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[0]


def _decode(raw: bytes, encoding: str) -> bytes:
    # Segment states its 500 KB limit per request; a gzip body is held to it after
    # decompression, which is the stricter reading and also bounds gzip bombs.
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        body = raw
    elif encoding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(raw, MAX_BODY_BYTES + 1)
        except zlib.error:
            raise _Reject(400, "body is not valid gzip") from None
        if len(body) <= MAX_BODY_BYTES and not inflater.eof:
            raise _Reject(400, "gzip body is truncated")
    else:
        raise _Reject(400, f"unsupported Content-Encoding: {encoding[:40]}")
    if len(body) > MAX_BODY_BYTES:
        raise _Reject(400, f"body is over {MAX_BODY_BYTES} bytes (500 KB)")
    return body


def _parse(body: bytes) -> dict[str, Any]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _Reject(400, "body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise _Reject(400, "body must be a JSON object")
    return doc


def _problems(msg: Any, implied: str | None, size: int) -> list[str]:
    if not isinstance(msg, dict):
        return ["message must be a JSON object"]
    reasons = []
    mtype = msg.get("type")
    if not isinstance(mtype, str) or mtype not in MESSAGE_TYPES:
        reasons.append(f"type must be one of {', '.join(sorted(MESSAGE_TYPES))}")
    elif implied is not None and mtype != implied:
        reasons.append(f"type {mtype} does not match the /v1/{implied} endpoint")
    if msg.get("userId") in (None, "") and msg.get("anonymousId") in (None, ""):
        reasons.append("Either `Anonymous ID` or `User ID` must be defined.")
    if size > MAX_MESSAGE_BYTES:
        reasons.append(f"message is {size} bytes, over the {MAX_MESSAGE_BYTES} byte (32 KB) limit")
    return reasons


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    sandbox: Sandbox

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup that can stall for seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (or stop() cutting them off) is routine here, not worth a traceback.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without this, headers and body go out in two small writes and Nagle plus delayed ACKs
    # add ~40 ms per keep-alive request.
    disable_nagle_algorithm = True
    timeout = 300
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.sandbox._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.sandbox._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the benchmark reads stdout/stderr, and nothing here may ever print a write key

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise _Reject(411, "send a Content-Length; chunked bodies are not supported")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_DRAIN_BYTES:
            raise _Reject(400, f"body is over {MAX_BODY_BYTES} bytes (500 KB)")
        body = self.rfile.read(length) if length > 0 else b""
        if len(body) < length:
            raise ConnectionError("client hung up mid-body")
        return body

    def do_POST(self) -> None:
        sandbox = self.server.sandbox
        try:
            raw = self._read_body()
        except (_Reject, ValueError) as exc:
            self.close_connection = True  # the rest of the body is still on the wire
            reject = exc if isinstance(exc, _Reject) else _Reject(400, "bad body framing")
            sandbox.stats._answered(reject.status)
            self._send(reject.status, orjson.dumps(reject.payload), {"Connection": "close"})
            return
        fault = sandbox._fault()
        if fault == DROP:
            sandbox.stats._answered(DROP)
            self.close_connection = True
            return
        if fault is not None:
            sandbox.stats._answered(fault)
            self._send(fault, *sandbox._fault_answer(fault))
            return
        try:
            count, ids = sandbox._process(self.path, self.headers, raw)
        except _Reject as reject:
            sandbox.stats._answered(reject.status)
            self._send(reject.status, orjson.dumps(reject.payload))
            return
        sandbox.stats._answered(200, count, ids)
        self._send(200, _OK)

    def _not_allowed(self) -> None:
        self.server.sandbox.stats._answered(405)
        payload = _Reject(405, f"{self.command} is not allowed; use POST").payload
        self._send(405, orjson.dumps(payload), {"Allow": "POST", "Connection": "close"})

    do_GET = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _not_allowed


class Sandbox:
    """A Tracking API server on a background thread; `with Sandbox() as sb:` runs it."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        output: str | Path | None = None,
        write_key: str | None = None,
        count_only: bool = False,
        faults: Faults | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.output = Path(output) if output is not None else None
        self._write_key = write_key
        self.count_only = count_only
        self.faults = faults or Faults()
        self.stats = SandboxStats()
        self._rng = random.Random(self.faults.seed)
        self._rng_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._out: BinaryIO | None = None
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:  # keeps the write key out of reprs in tracebacks and logs
        return f"Sandbox(url={self.url!r}, count_only={self.count_only})"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Sandbox:
        if self._server is not None:
            raise RuntimeError("sandbox already started")
        if self.output is not None and not self.count_only:
            self.output.parent.mkdir(parents=True, exist_ok=True)
            # Append, so a sandbox restarted mid-test (an outage) keeps what it accepted before.
            self._out = open(self.output, "ab")
        self._server = _Server((self.host, self.port), _Handler)
        self._server.sandbox = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="segment-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        # Keep-alive connections outlive the listener; cut them so clients see the outage.
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self._write_lock:
            if self._out is not None:
                self._out.close()
                self._out = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket, opened: bool) -> None:
        with self._conns_lock:
            if opened:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)
        if opened:
            self.stats._connected()

    def _fault(self) -> int | None:
        faults = self.faults
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        if faults.always_status is not None:
            return faults.always_status
        if not (faults.drop or faults.fail_429 or faults.fail_500):
            return None
        with self._rng_lock:
            draw = self._rng.random()
        if draw < faults.drop:
            return DROP
        if draw < faults.drop + faults.fail_429:
            return 429
        if draw < faults.drop + faults.fail_429 + faults.fail_500:
            return 500
        return None

    def _fault_answer(self, status: int) -> tuple[bytes, dict[str, str]]:
        headers = {}
        if status == 429:
            wait = self.faults.retry_after
            headers["Retry-After"] = f"{wait:g}"
            headers["X-RateLimit-Reset"] = str(int(time.time() + wait + 0.999))
        code = {429: "rate_limited", 500: "internal_error"}.get(status, "error")
        body = {"success": False, "code": code, "message": f"injected fault: HTTP {status}"}
        return orjson.dumps(body), headers

    def _check_key(self, key: str | None) -> None:
        if not key:
            raise _Reject(
                401, 'no write key: send Authorization: Basic base64("<writeKey>:") or writeKey'
            )
        expected = self._write_key
        if expected is not None and not hmac.compare_digest(key.encode(), expected.encode()):
            raise _Reject(401, "the write key does not match this sandbox's write key")

    def _process(self, path: str, headers: Any, raw: bytes) -> tuple[int, list[str] | None]:
        route = path.split("?", 1)[0].rstrip("/")
        if route not in ROUTES:
            raise _Reject(404, f"no such endpoint: {route[:100]}")
        implied = ROUTES[route]
        content_type = headers.get("Content-Type", "")
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            raise _Reject(400, "Content-Type must be application/json")
        body = _decode(raw, headers.get("Content-Encoding", ""))
        key = _header_key(headers.get("Authorization"))
        doc = None
        if key is None or not self.count_only:
            doc = _parse(body)
            if key is None:
                body_key = doc.get("writeKey")
                key = body_key if isinstance(body_key, str) else None
        self._check_key(key)
        if self.count_only:
            # Every message a client builds carries a messageId; counting the key is C-speed
            # where parsing 2,500 messages 100 times a second would be the bottleneck.
            count = 1 if implied else body.count(b'"messageId"')
            if count > MAX_BATCH_MESSAGES:
                raise _Reject(400, f"batch has {count} messages, over {MAX_BATCH_MESSAGES}")
            return count, None
        assert doc is not None
        if implied is None:
            batch = doc.get("batch")
            if not isinstance(batch, list):
                raise _Reject(400, '"batch" must be a list of messages')
            if len(batch) > MAX_BATCH_MESSAGES:
                raise _Reject(400, f"batch has {len(batch)} messages, over {MAX_BATCH_MESSAGES}")
        else:
            doc.setdefault("type", implied)
            batch = [doc]
        lines, errors = [], []
        for index, msg in enumerate(batch):
            if isinstance(msg, dict):
                msg.pop("writeKey", None)  # never written to the output file
            line = orjson.dumps(msg)
            reasons = _problems(msg, implied, len(line))
            if reasons:
                mid = msg.get("messageId") if isinstance(msg, dict) else None
                errors.append({"index": index, "messageId": mid, "reason": "; ".join(reasons)})
            lines.append(line)
        if errors:
            raise _Reject(400, f"{len(errors)} of {len(batch)} messages are invalid", errors)
        ids = [m["messageId"] for m in batch if isinstance(m.get("messageId"), str)]
        if lines:
            data = b"\n".join(lines) + b"\n"
            with self._write_lock:
                if self._out is not None:
                    self._out.write(data)
                    self._out.flush()
        return len(batch), ids


def run_sandbox(
    host: str = "127.0.0.1",
    port: int = 0,
    output: str | Path | None = None,
    write_key: str | None = None,
    count_only: bool = False,
    faults: Faults | None = None,
    port_file: str | Path | None = None,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """Serve until SIGINT/SIGTERM (or `stop` is set); returns the final stats snapshot."""
    stop = stop or threading.Event()
    # The handler only flips a flag: Event.set() takes a lock the interrupted thread may hold.
    signalled: list[int] = []
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda num, _: signalled.append(num))
    sandbox = Sandbox(host, port, output, write_key, count_only, faults).start()
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
    add("--drop", type=float, default=0.0, help="share of requests dropped without an answer")
    add("--latency-ms", type=float, default=0.0, help="delay before every answer")
    add("--retry-after", type=float, default=1.0, help="Retry-After seconds on injected 429s")
    add("--always-status", type=int, help="answer every request with this 4xx/5xx code")
    add("--seed", type=int, default=0, help="seed for the fault draws")
    add("--port-file", type=Path, help="write the port to this file once listening")


def sandbox_command(args: argparse.Namespace) -> int:
    try:
        faults = Faults(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Faults)})
    except ValueError as exc:
        print(f"dbt-segment sandbox: {exc}", file=sys.stderr)
        return 2
    run_sandbox(
        args.host, args.port, args.output, args.write_key, args.count_only, faults, args.port_file
    )
    return 0
