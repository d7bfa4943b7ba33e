"""When to try a batch again, and how long to wait: as Segment's own clients do."""

from __future__ import annotations

import random
from dataclasses import dataclass

# Segment's clients retry these, and 5xx but 501 (not implemented) and 505 (HTTP version)
RETRYABLE_STATUSES = frozenset({408, 410, 429, 460})
MAX_RETRY_AFTER_SECONDS = 300.0


def is_retryable(status: int) -> bool:
    return status in RETRYABLE_STATUSES or (500 <= status < 600 and status not in (501, 505))


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 30.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempts count from 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), MAX_RETRY_AFTER_SECONDS)
        ceiling = min(self.max_backoff_seconds, self.backoff_seconds * (2 ** (attempt - 1)))
        # "full jitter": spreads the retries of many senders instead of synchronising them
        return rng.uniform(ceiling / 2, ceiling)


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        # an HTTP date is allowed too; waiting our own backoff is fine then
        return None
