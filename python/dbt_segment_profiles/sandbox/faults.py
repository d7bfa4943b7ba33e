"""Faults the sandbox injects over real sockets: 429s, 500s, 200s reporting an error, latency,
dropped connections, and error bodies echoing the Authorization header as a careless proxy might.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Faults:
    """Injected failures; shares are probabilities per request, drawn from a seeded generator."""

    fail_429: float = 0.0
    fail_500: float = 0.0
    fail_200: float = 0.0  # answered 200 with {"success": false, "error": ...}
    drop: float = 0.0
    # the batch is taken (recorded, counted) and then the connection closes without an answer:
    # a send that reached Segment while the client never learnt it
    lose_answer: float = 0.0
    latency_ms: float = 0.0
    retry_after: float = 1.0
    always_status: int | None = None
    echo_authorization: bool = False  # injected answers quote the request's Authorization
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("fail_429", "fail_500", "fail_200", "drop", "lose_answer"):
            share = getattr(self, name)
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {share}")
        if self.fail_429 + self.fail_500 + self.fail_200 + self.drop > 1.0:
            raise ValueError("fail_429 + fail_500 + fail_200 + drop must not exceed 1")
        if self.latency_ms < 0 or self.retry_after < 0:
            raise ValueError("latency_ms and retry_after must not be negative")
        if self.always_status is not None and not 400 <= self.always_status <= 599:
            raise ValueError(f"always_status must be a 4xx or 5xx code, got {self.always_status}")
