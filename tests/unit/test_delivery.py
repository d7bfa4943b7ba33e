"""Batching, retry policy and the sender against a real sandbox over loopback."""

from __future__ import annotations

import base64
import random
import threading
import time

import orjson
import pytest

from dbt_segment_profiles.delivery.batching import MAX_BATCH_BYTES, Batch, Batcher
from dbt_segment_profiles.delivery.ratelimit import RateLimiter
from dbt_segment_profiles.delivery.redaction import Redactor
from dbt_segment_profiles.delivery.retry import RetryPolicy, is_retryable, parse_retry_after
from dbt_segment_profiles.delivery.sender import Sender
from dbt_segment_profiles.sandbox import Faults, Sandbox


def message(i: int, **extra: object) -> bytes:
    body = {"type": "identify", "userId": str(i), "messageId": f"m-{i}", "traits": {}}
    body.update(extra)
    return orjson.dumps({k: v for k, v in body.items() if v is not None})


def batch_of(messages: list[bytes]) -> Batch:
    batch = Batch()
    for i, m in enumerate(messages):
        batch.append(i, str(i), "added", m)
    return batch


def test_batcher_cuts_at_the_message_count_and_the_byte_limit() -> None:
    batcher = Batcher(max_messages=3)
    full = [b for i in range(7) if (b := batcher.add(i, str(i), "added", message(i)))]
    last = batcher.flush()
    assert [len(b) for b in full] == [3, 3] and last is not None and len(last) == 1
    big = b"x" * 100_000
    batcher = Batcher()
    full = [b for i in range(10) if (b := batcher.add(i, str(i), "added", big))]
    assert all(len(b.body("t")) <= MAX_BATCH_BYTES for b in full)
    assert [len(b) for b in full] == [4, 4]


def test_a_batch_acknowledges_what_segment_acknowledged_of_it() -> None:
    batcher = Batcher(max_messages=3)
    for i in range(3):
        batcher.add(i, f"k{i}", "added", message(i), f"h{i}", i)
    full = batcher.flush()
    assert full is not None
    assert full.acks([0, 1, 2]) == (
        [f"k{i}" for i in range(3)],
        ["h0", "h1", "h2"],
        ["added"] * 3,
        [0, 1, 2],
    )
    assert full.acks([2, 0]) == (["k0", "k2"], ["h0", "h2"], ["added"] * 2, [0, 2])
    assert full.acks([]) == ([], [], [], [])


@pytest.mark.parametrize("seed", range(6))
def test_a_chunk_extended_at_once_makes_the_batches_adding_one_by_one_makes(seed: int) -> None:
    rng = random.Random(seed)
    max_bytes, max_messages = rng.choice([(2_000, 7), (5_000, 50), (MAX_BATCH_BYTES, 2_500)])
    # sizes around the limits, an oversized message alone among them
    sizes = [rng.choice([1, 40, 300, 999, max_bytes // 3, max_bytes + 10]) for _ in range(400)]
    messages = [b"m" * size for size in sizes]
    seqs = list(range(len(messages)))
    keys = [f"k{i}" for i in seqs]
    ops = [rng.choice(["added", "updated", "deleted"]) for _ in seqs]
    hashes = [None if i % 5 == 0 else f"h{i}" for i in seqs]
    versions = [i % 3 for i in seqs]
    one_by_one = Batcher(max_bytes, max_messages)
    expected = [
        b
        for row in zip(seqs, keys, ops, messages, hashes, versions)
        if (b := one_by_one.add(*row))
    ]
    expected.append(one_by_one.flush())
    chunked = Batcher(max_bytes, max_messages)
    got: list[Batch | None] = []
    start = 0
    while start < len(seqs):  # chunks of uneven lengths, as a stream's last one is
        stop = start + rng.randint(1, 120)
        got += chunked.extend(
            *(column[start:stop] for column in (seqs, keys, ops, messages, hashes, versions))
        )
        start = stop
    got.append(chunked.flush())
    assert len(expected) > 3
    assert [b.__dict__ for b in got if b] == [b.__dict__ for b in expected if b]


@pytest.mark.parametrize("count", [0, 1, 2, 3, 50])
def test_batch_body_is_the_tracking_api_envelope(count: int) -> None:
    messages = [message(i) for i in range(count)]
    raw = batch_of(messages).body("2024-01-01T00:00:00.000Z")
    # byte for byte: the messages as built, comma-separated, in the envelope
    assert raw == b'{"batch":[' + b",".join(messages) + b'],"sentAt":"2024-01-01T00:00:00.000Z"}'
    body = orjson.loads(raw)
    assert body["sentAt"] == "2024-01-01T00:00:00.000Z"
    assert [m["userId"] for m in body["batch"]] == [str(i) for i in range(count)]


def test_retryable_statuses_follow_segments_clients() -> None:
    assert [s for s in (400, 401, 403, 404, 408, 410, 413, 429, 460) if is_retryable(s)] == [
        408,
        410,
        429,
        460,
    ]
    assert [s for s in (500, 501, 502, 503, 504, 505, 599) if is_retryable(s)] == [
        500,
        502,
        503,
        504,
        599,
    ]


def test_backoff_grows_with_jitter_and_retry_after_is_honoured_up_to_300_s() -> None:
    policy = RetryPolicy(backoff_seconds=1, max_backoff_seconds=8)
    rng = random.Random(1)
    delays = [policy.delay(a, None, rng) for a in range(1, 6)]
    assert 0.5 <= delays[0] <= 1 and 1 <= delays[1] <= 2 and all(4 <= d <= 8 for d in delays[3:])
    assert policy.delay(1, 12.0, rng) == 12.0
    assert policy.delay(1, 9999.0, rng) == 300.0
    assert parse_retry_after("3") == 3.0 and parse_retry_after("Wed, 21 Oct 2015") is None


def sender_for(box: Sandbox, key: str = "k", **kwargs: object) -> Sender:
    return Sender(
        f"{box.url}/v1/batch",
        key,
        RateLimiter(1000),
        policy=RetryPolicy(max_attempts=4, backoff_seconds=0.01, max_backoff_seconds=0.02),
        **kwargs,
    )


def test_a_400_batch_is_split_until_only_the_bad_message_is_rejected() -> None:
    with Sandbox(write_key="k") as box:
        messages = [message(i) for i in range(16)]
        messages[11] = message(11, userId=None)
        outcome = sender_for(box).deliver(batch_of(messages))
    assert sorted(outcome.acknowledged) == [i for i in range(16) if i != 11]
    assert [(seq, reason.startswith("HTTP 400")) for seq, _, _, reason in outcome.rejected] == [
        (11, True)
    ]
    assert outcome.failed == []
    # 1 + 2 + 2 + 2 + 2 requests: halving isolates one bad message in log2(16) rounds
    assert outcome.requests == 9


def test_retries_ride_out_429_and_500_and_gzip_is_accepted() -> None:
    faults = Faults(fail_429=0.3, fail_500=0.3, retry_after=0.01, seed=3)
    with Sandbox(write_key="k", faults=faults) as box:
        sender = sender_for(box, use_gzip=True)
        outcomes = [sender.deliver(batch_of([message(i)])) for i in range(20)]
    assert all(o.acknowledged for o in outcomes)
    assert sum(o.requests for o in outcomes) > 20


def test_a_server_that_always_fails_leaves_the_batch_failed_after_bounded_attempts() -> None:
    with Sandbox(write_key="k", faults=Faults(always_status=502)) as box:
        outcome = sender_for(box).deliver(batch_of([message(1), message(2)]))
        assert box.stats.snapshot()["requests"] == 4
    assert outcome.acknowledged == [] and len(outcome.failed) == 2
    assert outcome.failed[0][3].endswith("(after 4 attempts)")


def test_401_is_reported_as_an_auth_failure_without_retrying() -> None:
    with Sandbox(write_key="expected") as box:
        outcome = sender_for(box).deliver(batch_of([message(1)]))
        assert box.stats.snapshot()["requests"] == 1
    assert outcome.auth_error is not None and outcome.auth_error.status == 401
    assert "k" not in str(outcome.auth_error).split(":")[-1].split()


SECRET = "wk-SECRET-7f3a9c21e5?>"  # "?>" puts a "/" in its base64 forms


def secret_forms(key: str) -> list[str]:
    """The key as sent, unpadded: any padded form contains these."""
    encoded = [base64.b64encode(raw.encode()).decode().rstrip("=") for raw in (f"{key}:", key)]
    return [key, *encoded]


def test_redaction_removes_the_key_in_every_form_we_send_it() -> None:
    redact = Redactor(SECRET)
    with_colon, without = (base64.b64encode(r.encode()).decode() for r in (f"{SECRET}:", SECRET))
    assert "/" in with_colon + without and "=" in with_colon + without
    text = (
        f"Authorization: Basic {with_colon} raw {SECRET}, bare {without}, unpadded "
        f"{without.rstrip('=')}, json {with_colon.replace('/', chr(92) + '/')} x{SECRET}y"
    )
    redacted = redact(text)
    assert not [form for form in secret_forms(SECRET) if form in redacted]
    assert redacted.startswith("Authorization: [redacted] raw [redacted], bare [redacted],")
    assert redacted.endswith("x[redacted]y")
    assert Redactor("")("nothing to hide") == "nothing to hide"
    assert SECRET not in repr(redact)


def test_error_body_echoing_the_authorization_header_is_redacted() -> None:
    reasons = []
    for status in (400, 401, 500):
        faults = Faults(always_status=status, echo_authorization=True)
        with Sandbox(write_key=SECRET, faults=faults) as box:
            outcome = sender_for(box, key=SECRET).deliver(batch_of([message(1), message(2)]))
        entries = outcome.rejected + outcome.failed
        assert outcome.acknowledged == [] and len(entries) == 2
        reasons += [reason for *_, reason in entries] + [str(outcome.auth_error or "")]
    assert not [(form, r) for r in reasons for form in secret_forms(SECRET) if form in r]
    assert all("[redacted]" in reason for reason in reasons if reason)


def test_2xx_with_an_error_body_is_not_an_acknowledgement() -> None:
    with Sandbox(write_key="k", faults=Faults(fail_200=1.0)) as box:
        outcome = sender_for(box).deliver(batch_of([message(1), message(2)]))
        assert box.stats.snapshot()["requests"] == 4  # retried like a 5xx, then given up
    assert outcome.acknowledged == [] and [seq for seq, *_ in outcome.failed] == [0, 1]
    reason = outcome.failed[0][3]
    assert reason.startswith("HTTP 200 with an error in its body: injected fault: HTTP 200")
    assert reason.endswith("(after 4 attempts)")
    # one such answer among good ones costs a retry, not the batch
    with Sandbox(write_key="k", faults=Faults(fail_200=0.5, seed=1)) as box:
        sender = sender_for(box)
        outcomes = [sender.deliver(batch_of([message(i)])) for i in range(10)]
        assert box.stats.snapshot()["statuses"][200] > 10
    assert all(o.acknowledged for o in outcomes)


def test_stop_interrupts_retries() -> None:
    stop = threading.Event()
    with Sandbox(write_key="k", faults=Faults(always_status=429, retry_after=30)) as box:
        sender = sender_for(box, stop=stop)
        threading.Timer(0.2, stop.set).start()
        started = time.monotonic()
        outcome = sender.deliver(batch_of([message(1)]))
    assert time.monotonic() - started < 5
    assert outcome.failed and "interrupted" in outcome.failed[0][3]


@pytest.mark.parametrize("rate", [50.0])
def test_rate_limiter_spaces_requests(rate: float) -> None:
    limiter = RateLimiter(rate, burst=1)
    started = time.monotonic()
    for _ in range(11):
        limiter.acquire()
    assert time.monotonic() - started >= 10 / rate * 0.9


def test_dropped_connections_are_replaced_and_named_in_the_reason() -> None:
    with Sandbox(write_key="k", faults=Faults(drop=0.25, seed=7)) as box:
        sender = sender_for(box)
        outcomes = [sender.deliver(batch_of([message(i)])) for i in range(20)]
        snapshot = box.stats.snapshot()
    assert all(o.acknowledged for o in outcomes)
    assert snapshot["requests"] > 20 and snapshot["accepted_messages"] == 20
    with Sandbox(write_key="k", faults=Faults(drop=1.0)) as box:
        outcome = sender_for(box).deliver(batch_of([message(1)]))
    (reason,) = {entry[3] for entry in outcome.failed}
    assert reason.startswith(f"no answer from {box.url}/v1/batch: ")
    assert reason.endswith("(after 4 attempts)")


class ForwardingProxy:
    """An HTTP proxy on loopback: takes `POST http://host:port/path` as a proxy does, forwards
    it over a socket of its own and answers with what came back; counts what it forwarded."""

    def __init__(self) -> None:
        import http.client
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        proxy = self
        self.forwarded: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                target = urlsplit(self.path)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {
                    k: v for k, v in self.headers.items() if not k.lower().startswith("proxy-")
                }
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
                upstream.request("POST", target.path, body=body, headers=headers)
                answer = upstream.getresponse()
                content = answer.read()
                proxy.forwarded.append(self.path)
                self.send_response(answer.status)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)
                upstream.close()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.mark.parametrize("bypassed", [False, True])
def test_the_environments_proxy_and_no_proxy_are_honoured(
    bypassed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = ForwardingProxy()
    try:
        with Sandbox(write_key="k") as box:
            for name in ("HTTP_PROXY", "http_proxy"):
                monkeypatch.setenv(name, proxy.url)
            for name in ("NO_PROXY", "no_proxy"):
                monkeypatch.setenv(name, "127.0.0.1" if bypassed else "example.com")
            sender = sender_for(box)
            outcomes = [sender.deliver(batch_of([message(i)])) for i in range(3)]
            accepted = box.stats.snapshot()["accepted_messages"]
    finally:
        proxy.close()
    assert all(o.acknowledged for o in outcomes) and accepted == 3
    assert proxy.forwarded == ([] if bypassed else [f"{box.url}/v1/batch"] * 3)


def test_a_netrc_entry_for_the_host_does_not_replace_the_write_key(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"  # type: ignore[operator]
    netrc.write_text("machine 127.0.0.1\nlogin someone-else\npassword not-the-key\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with Sandbox(write_key="the-key") as box:
        outcome = sender_for(box, key="the-key").deliver(batch_of([message(1)]))
    assert outcome.acknowledged == [0] and outcome.auth_error is None
