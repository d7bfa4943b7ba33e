"""Posting batches to the Tracking API: retries, 400 isolation, auth failures."""

from __future__ import annotations

import base64
import gzip
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import repeat

import orjson

from .. import __version__
from .batching import Batch
from .connection import Answer, Connection, NoAnswer
from .ratelimit import RateLimiter
from .redaction import Redactor
from .retry import RetryPolicy, is_retryable, parse_retry_after

Entry = tuple[int, str, str, str]  # seq, key, operation, reason

# Segment's usual 2xx bodies: acknowledged without parsing
PLAIN_ACKNOWLEDGEMENTS = frozenset({b"", b'{"success":true}', b'{"success": true}'})
# a 2xx body larger than this is not parsed, and acknowledges: checking stays cheap
MAX_INSPECTED_BODY_BYTES = 64 * 1024
MAX_REASON_CHARS = 500


class AuthFailed(Exception):
    """The profile space refused the write key (401 or 403): nothing more can be sent to it."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class BatchOutcome:
    acknowledged: list[int] = field(default_factory=list)
    rejected: list[Entry] = field(default_factory=list)
    failed: list[Entry] = field(default_factory=list)
    requests: int = 0
    auth_error: AuthFailed | None = None

    def merge(self, other: BatchOutcome) -> None:
        self.acknowledged += other.acknowledged
        self.rejected += other.rejected
        self.failed += other.failed
        self.requests += other.requests
        self.auth_error = self.auth_error or other.auth_error


def iso_now() -> str:
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _json_object(content: bytes) -> dict | None:
    try:
        doc = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


def _message(doc: dict, *names: str) -> str:
    for name in names:
        value = doc.get(name)
        if value:
            return value if isinstance(value, str) else orjson.dumps(value).decode()
    return ""


def _answer_text(answer: Answer) -> str:
    """The answer's status and message, unredacted and uncut (Sender._reason does both)."""
    doc = _json_object(answer.content)
    message = _message(doc, "message", "error", "errors") if doc is not None else ""
    return f"HTTP {answer.status}: {message or answer.text}".rstrip(": ")


def _error_in_2xx(answer: Answer) -> str | None:
    """The error a 2xx answer's body reports, None when the answer acknowledges the batch.

    A JSON object with `"success": false` or a non-empty `error`/`errors` is an error; empty,
    non-JSON and large bodies acknowledge, as they do for Segment's own clients.
    """
    content = answer.content
    if content in PLAIN_ACKNOWLEDGEMENTS or len(content) > MAX_INSPECTED_BODY_BYTES:
        return None
    doc = _json_object(content)
    if doc is None or not (doc.get("success") is False or doc.get("error") or doc.get("errors")):
        return None
    message = _message(doc, "message", "error", "errors") or answer.text
    return f"HTTP {answer.status} with an error in its body: {message}"


class Sender:
    """Sends batches for one profile space; safe to call from several threads at once."""

    def __init__(
        self,
        url: str,
        write_key: str,
        rate_limiter: RateLimiter,
        policy: RetryPolicy | None = None,
        use_gzip: bool = False,
        timeout: float = 30.0,
        stop: threading.Event | None = None,
    ) -> None:
        self.url = url
        self.policy = policy or RetryPolicy()
        self.rate_limiter = rate_limiter
        self.use_gzip = use_gzip
        self.timeout = timeout
        self.stop = stop or threading.Event()
        token = base64.b64encode(f"{write_key}:".encode()).decode()
        self._headers = {
            "Authorization": f"Basic {token}",
            "Content-Type": "application/json",
            "User-Agent": f"dbt-segment-profiles/{__version__}",
        }
        if use_gzip:
            self._headers["Content-Encoding"] = "gzip"
        self._redact = Redactor(write_key)
        self._local = threading.local()
        self._rng = random.Random()

    def _connection(self) -> Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            # one keep-alive connection per sending thread
            connection = self._local.connection = Connection(self.url, self.timeout)
        return connection

    def _drop_connection(self) -> None:
        connection, self._local.connection = getattr(self._local, "connection", None), None
        if connection is not None:
            connection.close()

    def deliver(self, batch: Batch) -> BatchOutcome:
        """Send a batch until Segment acknowledges it, isolating messages it answers 400 for."""
        outcome = BatchOutcome()
        acknowledged, status, reason, requests_made = self._post(batch)
        outcome.requests += requests_made
        if acknowledged:
            outcome.acknowledged = list(batch.seqs)
            return outcome
        if status == 400 and len(batch) > 1:
            for half in batch.halves():
                outcome.merge(self.deliver(half))
            return outcome
        # built in C, and only for a batch that was not acknowledged
        entries = list(zip(batch.seqs, batch.keys, batch.ops, repeat(reason)))
        if status == 400:
            outcome.rejected = entries
        else:
            if status in (401, 403):
                outcome.auth_error = AuthFailed(status, reason)
            outcome.failed = entries
        return outcome

    def _reason(self, text: str) -> str:
        """A reason fit to print and store: the write key redacted, then cut to length."""
        # redacted before cutting, so no cut can leave part of the key unrecognised
        return self._redact(text)[:MAX_REASON_CHARS]

    def _post(self, batch: Batch) -> tuple[bool, int | None, str, int]:
        """Whether Segment acknowledged the batch, the final status (None when no answer came),
        the reason, and the requests made."""
        attempt = 0
        reason = "not sent"
        status: int | None = None
        while attempt < self.policy.max_attempts:
            if self.stop.is_set():
                return False, None, "interrupted before Segment answered", attempt
            attempt += 1
            self.rate_limiter.acquire()
            body = batch.body(iso_now())
            if self.use_gzip:
                body = gzip.compress(body, compresslevel=5)
            retry_after = None
            try:
                answer = self._connection().post(body, self._headers)
                status = answer.status
                if 200 <= status < 300:
                    error = _error_in_2xx(answer)
                    if error is None:
                        return True, status, "", attempt
                    # not an acknowledgement: retried like a 5xx
                    reason = self._reason(error)
                else:
                    reason = self._reason(_answer_text(answer))
                    if not is_retryable(status):
                        return False, status, reason, attempt
                retry_after = parse_retry_after(answer.retry_after)
            except NoAnswer as exc:
                # no answer: the batch may or may not have arrived; resending is safe because
                # Segment de-duplicates by messageId
                status = None
                reason = self._reason(f"no answer from {self.url}: {type(exc).__name__}")
                self._drop_connection()
            if attempt < self.policy.max_attempts:
                delay = self.policy.delay(attempt, retry_after, self._rng)
                if self.stop.wait(delay):
                    return False, None, "interrupted before Segment answered", attempt
        return False, status, f"{reason} (after {attempt} attempts)", attempt
