"""The sandbox's HTTP server and its handler."""

from __future__ import annotations

import hmac
import random
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from .faults import Faults
from .limits import (
    DROP,
    MAX_BATCH_MESSAGES,
    MAX_BODY_BYTES,
    MAX_DRAIN_BYTES,
    OK_BODY,
    ROUTES,
    Reject,
    decode_body,
    header_key,
    message_problems,
    parse_body,
    with_exact_numbers,
)
from .public_api import PublicApi
from .stats import SandboxStats


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
            raise Reject(411, "send a Content-Length; chunked bodies are not supported")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_DRAIN_BYTES:
            raise Reject(400, f"body is over {MAX_BODY_BYTES} bytes (500 KB)")
        body = self.rfile.read(length) if length > 0 else b""
        if len(body) < length:
            raise ConnectionError("client hung up mid-body")
        return body

    def do_POST(self) -> None:
        sandbox = self.server.sandbox
        try:
            raw = self._read_body()
        except (Reject, ValueError) as exc:
            self.close_connection = True  # the rest of the body is still on the wire
            reject = exc if isinstance(exc, Reject) else Reject(400, "bad body framing")
            sandbox.stats._answered(reject.status)
            self._send(reject.status, orjson.dumps(reject.payload), {"Connection": "close"})
            return
        fault = sandbox._fault()
        if fault == DROP:
            sandbox.stats._answered(DROP)
            self.close_connection = True
            return
        if fault is not None:
            sandbox.stats._answered(fault, accepted=False)
            self._send(fault, *sandbox._fault_answer(fault, self.headers.get("Authorization")))
            return
        try:
            count, ids = sandbox._process(self.path, self.headers, raw)
        except Reject as reject:
            sandbox.stats._answered(reject.status)
            self._send(reject.status, orjson.dumps(reject.payload))
            return
        if sandbox._lose_answer():
            sandbox.stats._answered(DROP, count, ids)
            self.close_connection = True
            return
        sandbox.stats._answered(200, count, ids)
        sandbox._answers_open.wait()
        self._send(200, OK_BODY)

    def _not_allowed(self) -> None:
        self.server.sandbox.stats._answered(405)
        payload = Reject(405, f"{self.command} is not allowed; use POST").payload
        self._send(405, orjson.dumps(payload), {"Allow": "POST", "Connection": "close"})

    def do_GET(self) -> None:
        route, _, query = self.path.partition("?")
        public_api = self.server.sandbox.public_api
        if route.rstrip("/") != "/sources" or public_api is None:
            self._not_allowed()
            return
        fault = self.server.sandbox._fault(tracking_only=False)
        if fault == DROP:
            self.close_connection = True
            return
        if fault is not None:
            authorization = self.headers.get("Authorization")
            body, headers = self.server.sandbox._fault_answer(fault, authorization, True)
            self._send(fault, body, headers)
            return
        self._send(*public_api.answer(query, self.headers.get("Authorization")))

    do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _not_allowed


class Sandbox:
    """A Tracking API server on a background thread; `with Sandbox() as sb:` runs it.

    With `public_sources`, it also answers the Public API's `GET /sources` (Bearer
    `public_api_token`, any token when None; at most `public_page_size` sources a page).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        output: str | Path | None = None,
        write_key: str | None = None,
        count_only: bool = False,
        faults: Faults | None = None,
        public_sources: list[dict[str, Any]] | None = None,
        public_api_token: str | None = None,
        public_page_size: int | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.output = Path(output) if output is not None else None
        self._write_key = write_key
        self.count_only = count_only
        self.faults = faults or Faults()
        self.public_api = (
            PublicApi(
                public_sources,
                public_api_token,
                public_page_size,
                self.faults.echo_authorization,
            )
            if public_sources is not None
            else None
        )
        self.stats = SandboxStats()
        self._rng = random.Random(self.faults.seed)
        self._rng_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._out: BinaryIO | None = None
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._answers_open = threading.Event()
        self._answers_open.set()

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
        try:
            self._server = _Server((self.host, self.port), _Handler)
        except BaseException:
            # nothing listens: leave nothing open either (the caller may pick another port)
            if self._out is not None:
                self._out.close()
                self._out = None
            raise
        self._server.sandbox = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="segment-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def hold_answers(self) -> None:
        """Take and count the batches that arrive, but answer none until `release_answers`:
        a client holds its batches in flight for as long (up to its own timeout). Tests keep
        a sync in the middle of sending with it, where a slow answer only makes it likely."""
        self._answers_open.clear()

    def release_answers(self) -> None:
        """Answer the held batches, and every batch from now on as it comes."""
        self._answers_open.set()

    def stop(self) -> None:
        self.release_answers()  # the held handlers end with the server
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

    def _lose_answer(self) -> bool:
        if not self.faults.lose_answer:
            return False
        with self._rng_lock:
            return self._rng.random() < self.faults.lose_answer

    def _fault(self, tracking_only: bool = True) -> int | None:
        """The fault to answer with, if any. The Public API (`tracking_only=False`) gets the
        same draws but no 200 reporting an error: that one is the Tracking API's."""
        faults = self.faults
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        if faults.always_status is not None:
            return faults.always_status
        if not (faults.drop or faults.fail_429 or faults.fail_500 or faults.fail_200):
            return None
        with self._rng_lock:
            draw = self._rng.random()
        if draw < faults.drop:
            return DROP
        if draw < faults.drop + faults.fail_429:
            return 429
        if draw < faults.drop + faults.fail_429 + faults.fail_500:
            return 500
        if draw < faults.drop + faults.fail_429 + faults.fail_500 + faults.fail_200:
            return 200 if tracking_only else None
        return None

    def _fault_answer(
        self, status: int, authorization: str | None, public_api: bool = False
    ) -> tuple[bytes, dict[str, str]]:
        headers = {}
        if status == 429:
            wait = self.faults.retry_after
            headers["Retry-After"] = f"{wait:g}"
            headers["X-RateLimit-Reset"] = str(int(time.time() + wait + 0.999))
        code = {429: "rate_limited", 500: "internal_error"}.get(status, "error")
        message = f"injected fault: HTTP {status}"
        if self.faults.echo_authorization:
            # what a careless proxy does: the credentials, as sent and decoded, in the error
            message += f" (Authorization: {authorization}; key {header_key(authorization)})"
        if public_api:  # the Public API's error shape
            return orjson.dumps({"errors": [{"type": code, "message": message}]}), headers
        body: dict[str, Any] = {"success": False, "code": code, "message": message}
        if status == 200:
            body["error"] = "injected fault: the batch was not processed"
        return orjson.dumps(body), headers

    def _check_key(self, key: str | None) -> None:
        if not key:
            raise Reject(
                401, 'no write key: send Authorization: Basic base64("<writeKey>:") or writeKey'
            )
        expected = self._write_key
        if expected is not None and not hmac.compare_digest(key.encode(), expected.encode()):
            raise Reject(401, "the write key does not match this sandbox's write key")

    def _process(self, path: str, headers: Any, raw: bytes) -> tuple[int, list[str] | None]:
        route = path.split("?", 1)[0].rstrip("/")
        if route not in ROUTES:
            raise Reject(404, f"no such endpoint: {route[:100]}")
        implied = ROUTES[route]
        content_type = headers.get("Content-Type", "")
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            raise Reject(400, "Content-Type must be application/json")
        body = decode_body(raw, headers.get("Content-Encoding", ""))
        key = header_key(headers.get("Authorization"))
        doc = None
        if key is None or not self.count_only:
            doc = parse_body(body)
            if key is None:
                body_key = doc.get("writeKey")
                key = body_key if isinstance(body_key, str) else None
        self._check_key(key)
        if self.count_only:
            # Every message a client builds carries a messageId; counting the key is C-speed
            # where parsing 2,500 messages 100 times a second would be the bottleneck.
            count = 1 if implied else body.count(b'"messageId"')
            if count > MAX_BATCH_MESSAGES:
                raise Reject(400, f"batch has {count} messages, over {MAX_BATCH_MESSAGES}")
            return count, None
        assert doc is not None
        doc = with_exact_numbers(body, doc)
        if implied is None:
            batch = doc.get("batch")
            if not isinstance(batch, list):
                raise Reject(400, '"batch" must be a list of messages')
            if len(batch) > MAX_BATCH_MESSAGES:
                raise Reject(400, f"batch has {len(batch)} messages, over {MAX_BATCH_MESSAGES}")
        else:
            doc.setdefault("type", implied)
            batch = [doc]
        lines, errors = [], []
        for index, msg in enumerate(batch):
            if isinstance(msg, dict):
                msg.pop("writeKey", None)  # never written to the output file
            line = orjson.dumps(msg)
            reasons = message_problems(msg, implied, len(line))
            if reasons:
                mid = msg.get("messageId") if isinstance(msg, dict) else None
                errors.append({"index": index, "messageId": mid, "reason": "; ".join(reasons)})
            lines.append(line)
        if errors:
            raise Reject(400, f"{len(errors)} of {len(batch)} messages are invalid", errors)
        ids = [m["messageId"] for m in batch if isinstance(m.get("messageId"), str)]
        if lines:
            data = b"\n".join(lines) + b"\n"
            with self._write_lock:
                if self._out is not None:
                    self._out.write(data)
                    self._out.flush()
        return len(batch), ids
