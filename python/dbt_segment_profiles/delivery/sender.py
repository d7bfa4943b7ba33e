"""Posting batches to the Tracking API: retries, 400 isolation, auth failures."""

from __future__ import annotations

import base64
import gzip
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone

import requests
from requests.adapters import HTTPAdapter

from .. import __version__
from .batching import Batch
from .ratelimit import RateLimiter
from .retry import RetryPolicy, is_retryable, parse_retry_after

Entry = tuple[int, str, str, str]  # seq, key, operation, reason


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


def _reason(response: requests.Response) -> str:
    try:
        body = response.json()
        message = body.get("message") or body.get("error") or response.text
    except ValueError:
        message = response.text
    return f"HTTP {response.status_code}: {str(message)[:500]}".rstrip(": ")


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
        self._local = threading.local()
        self._rng = random.Random()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            # one keep-alive connection per sending thread
            session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=1))
            session.mount("https://", HTTPAdapter(pool_connections=1, pool_maxsize=1))
            self._local.session = session
        return session

    def deliver(self, batch: Batch) -> BatchOutcome:
        """Send a batch until Segment acknowledges it, isolating messages it answers 400 for."""
        outcome = BatchOutcome()
        status, reason, requests_made = self._post(batch)
        outcome.requests += requests_made
        entries = list(zip(batch.seqs, batch.keys, batch.ops))
        if status is not None and 200 <= status < 300:
            outcome.acknowledged = list(batch.seqs)
        elif status == 400 and len(batch) > 1:
            for half in batch.halves():
                outcome.merge(self.deliver(half))
        elif status == 400:
            outcome.rejected = [(s, k, o, reason) for s, k, o in entries]
        elif status in (401, 403):
            outcome.auth_error = AuthFailed(status, reason)
            outcome.failed = [(s, k, o, reason) for s, k, o in entries]
        else:
            outcome.failed = [(s, k, o, reason) for s, k, o in entries]
        return outcome

    def _post(self, batch: Batch) -> tuple[int | None, str, int]:
        """The final status (None when no answer came) and reason, and the requests made."""
        attempt = 0
        reason = "not sent"
        status: int | None = None
        while attempt < self.policy.max_attempts:
            if self.stop.is_set():
                return None, "interrupted before Segment answered", attempt
            attempt += 1
            self.rate_limiter.acquire()
            body = batch.body(iso_now())
            if self.use_gzip:
                body = gzip.compress(body, compresslevel=5)
            retry_after = None
            try:
                response = self._session().post(
                    self.url, data=body, headers=self._headers, timeout=self.timeout
                )
                status = response.status_code
                if 200 <= status < 300:
                    return status, "", attempt
                reason = _reason(response)
                if not is_retryable(status):
                    return status, reason, attempt
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            except requests.RequestException as exc:
                # no answer: the batch may or may not have arrived; resending is safe because
                # Segment de-duplicates by messageId
                status = None
                reason = f"no answer from {self.url}: {type(exc).__name__}"
                self._local.session = None
            if attempt < self.policy.max_attempts:
                delay = self.policy.delay(attempt, retry_after, self._rng)
                if self.stop.wait(delay):
                    return None, "interrupted before Segment answered", attempt
        return status, f"{reason} (after {attempt} attempts)", attempt
