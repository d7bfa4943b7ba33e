from __future__ import annotations

import argparse
import base64
import gzip
import http.client
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests

from dbt_segment_profiles.sandbox import (
    Faults,
    Sandbox,
    add_sandbox_arguments,
    run_sandbox,
    sandbox_command,
)

KEY = "wk_s3cret_sandbox_key"
JSON = {"Content-Type": "application/json"}


def msg(i: int, **extra: object) -> dict:
    m = {"type": "track", "event": "Ordered", "userId": f"u{i}", "messageId": f"m-{i}"}
    m.update(extra)
    return m


def basic(key: str) -> dict[str, str]:
    token = base64.b64encode(f"{key}:".encode()).decode()
    return {**JSON, "Authorization": f"Basic {token}"}


def post(sb: Sandbox, body: object, path: str = "/v1/batch", **kw: object) -> requests.Response:
    kw.setdefault("headers", basic(KEY))
    data = body if isinstance(body, (bytes, Iterator)) else orjson.dumps(body)
    return requests.post(sb.url + path, data=data, timeout=10, **kw)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "accepted.jsonl"


@pytest.fixture
def sb(out: Path) -> Iterator[Sandbox]:
    with Sandbox(output=out, write_key=KEY) as sandbox:
        yield sandbox


def lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_accepted_batch_is_recorded_line_by_line(sb: Sandbox, out: Path) -> None:
    batch = [msg(i, properties={"n": i, "é": None}) for i in range(3)]
    r = post(sb, {"batch": batch, "sentAt": "2026-01-01T00:00:00Z"})
    assert r.status_code == 200 and r.json() == {"success": True}
    assert out.read_bytes() == b"".join(orjson.dumps(m) + b"\n" for m in batch)
    snap = sb.stats.snapshot()
    assert snap["accepted_batches"] == 1 and snap["accepted_messages"] == 3
    assert snap["statuses"] == {200: 1}
    post(sb, {"batch": batch[:1]})
    assert sb.stats.duplicates() == {"m-0": 2}
    assert sb.stats.message_ids["m-1"] == 1


def test_numbers_are_recorded_as_they_were_sent(sb: Sandbox, out: Path) -> None:
    numbers = (
        b'{"d":12345678.123456789012,"h":170141183460469231731687303715884105727,'
        b'"scale":12.50,"e":1E+300,"n":-0,"f":0.1,"i":7}'
    )
    message = b'{"type":"identify","userId":"u1","traits":' + numbers + b',"messageId":"m-1"}'
    for path, body in (
        ("/v1/batch", b'{"batch": [' + message + b'], "sentAt": "2026-01-01T00:00:00Z"}'),
        ("/v1/identify", message),
    ):
        assert post(sb, body, path).status_code == 200
    assert out.read_bytes() == (message + b"\n") * 2


def test_basic_auth_with_colon_and_body_write_key(sb: Sandbox, out: Path) -> None:
    assert post(sb, {"batch": [msg(1)]}).status_code == 200
    # requests' auth tuple is how analytics clients send it: base64("<key>:")
    r = requests.post(sb.url + "/v1/batch", json={"batch": [msg(2)]}, auth=(KEY, ""), timeout=5)
    assert r.status_code == 200
    r = post(sb, {"batch": [msg(3)], "writeKey": KEY}, headers=JSON)
    assert r.status_code == 200
    assert [m["messageId"] for m in lines(out)] == ["m-1", "m-2", "m-3"]


def test_missing_key_is_401(sb: Sandbox, out: Path) -> None:
    r = post(sb, {"batch": [msg(1)]}, headers=JSON)
    assert r.status_code == 401
    assert r.json()["success"] is False and r.json()["code"] == "unauthorized"
    assert post(sb, {"batch": [msg(1)], "writeKey": ""}, headers=JSON).status_code == 401
    assert out.read_bytes() == b""
    assert sb.stats.snapshot()["rejected_requests"] == 2


def test_wrong_key_is_401_when_a_key_is_expected(sb: Sandbox) -> None:
    assert post(sb, {"batch": [msg(1)]}, headers=basic("other")).status_code == 401
    r = post(sb, {"batch": [msg(1)], "writeKey": "other"}, headers=JSON)
    assert r.status_code == 401
    assert KEY not in r.text and "other" not in r.text
    headers = {**JSON, "Authorization": "Bearer " + KEY}
    assert post(sb, {"batch": [msg(1)]}, headers=headers).status_code == 401


def test_any_key_accepted_when_none_expected(out: Path) -> None:
    with Sandbox(output=out) as sandbox:
        assert post(sandbox, {"batch": [msg(1)]}, headers=basic("anything")).status_code == 200


def test_content_type_must_be_json(sb: Sandbox) -> None:
    headers = {**basic(KEY), "Content-Type": "text/plain"}
    r = post(sb, {"batch": [msg(1)]}, headers=headers)
    assert r.status_code == 400 and r.json()["code"] == "invalid_request"
    assert "Content-Type" in r.json()["message"]
    headers["Content-Type"] = "application/json; charset=utf-8"
    assert post(sb, {"batch": [msg(1)]}, headers=headers).status_code == 200


def test_invalid_json_is_400(sb: Sandbox) -> None:
    r = post(sb, b'{"batch": [', headers=basic(KEY))
    assert r.status_code == 400 and "JSON" in r.json()["message"]
    assert post(sb, {"batch": {"not": "a list"}}).status_code == 400


def test_body_over_500_kb_is_400_and_connection_stays_usable(sb: Sandbox, out: Path) -> None:
    # 20 messages of ~26 KB each: every message is legal, only the request is too big.
    batch = [msg(i, properties={"pad": "x" * 26_000}) for i in range(20)]
    body = orjson.dumps({"batch": batch})
    assert len(body) > 512_000
    with requests.Session() as s:
        r = s.post(sb.url + "/v1/batch", data=body, headers=basic(KEY), timeout=10)
        assert r.status_code == 400 and "500 KB" in r.json()["message"]
        ok = s.post(
            sb.url + "/v1/batch",
            data=orjson.dumps({"batch": batch[:19]}),
            headers=basic(KEY),
            timeout=10,
        )
        assert ok.status_code == 200
    assert len(lines(out)) == 19
    assert sb.stats.snapshot()["connections"] == 1


def test_batch_message_count_limit(sb: Sandbox, out: Path) -> None:
    r = post(sb, {"batch": [msg(i) for i in range(2_501)]})
    assert r.status_code == 400 and "2501" in r.json()["message"]
    assert out.read_bytes() == b""
    assert post(sb, {"batch": [msg(i) for i in range(2_500)]}).status_code == 200
    assert len(lines(out)) == 2_500


def test_message_over_32_kb_is_400_with_its_index(sb: Sandbox, out: Path) -> None:
    batch = [msg(0), msg(1, properties={"pad": "x" * 33_000}), msg(2)]
    r = post(sb, {"batch": batch})
    assert r.status_code == 400
    errors = r.json()["errors"]
    assert [(e["index"], e["messageId"]) for e in errors] == [(1, "m-1")]
    assert "32768" in errors[0]["reason"]
    assert out.read_bytes() == b""  # the whole request is refused, nothing is half-recorded


def test_message_without_ids_is_400_listing_only_that_index(sb: Sandbox, out: Path) -> None:
    bad = msg(2)
    del bad["userId"]
    bad["anonymousId"] = ""
    batch = [msg(0), msg(1), bad, msg(3, type="bogus")]
    r = post(sb, {"batch": batch})
    assert r.status_code == 400
    errors = {e["index"]: e["reason"] for e in r.json()["errors"]}
    assert set(errors) == {2, 3}
    assert "Either `Anonymous ID` or `User ID` must be defined." in errors[2]
    assert "type" in errors[3]
    assert out.read_bytes() == b""


def test_single_message_endpoints_imply_the_type(sb: Sandbox, out: Path) -> None:
    m = {"userId": "u1", "traits": {"plan": "pro"}, "messageId": "i-1", "writeKey": KEY}
    assert post(sb, m, path="/v1/identify", headers=JSON).status_code == 200
    assert post(sb, {**msg(5), "type": "identify"}, path="/v1/track").status_code == 400
    assert lines(out) == [
        {"userId": "u1", "traits": {"plan": "pro"}, "messageId": "i-1", "type": "identify"}
    ]


def test_gzip_body_accepted_and_limit_applies_after_decompression(sb: Sandbox, out: Path) -> None:
    headers = {**basic(KEY), "Content-Encoding": "gzip"}
    r = post(sb, gzip.compress(orjson.dumps({"batch": [msg(1)]})), headers=headers)
    assert r.status_code == 200
    assert lines(out) == [msg(1)]
    padded = {"batch": [msg(i, properties={"pad": "x" * 30_000}) for i in range(20)]}
    small = gzip.compress(orjson.dumps(padded))
    assert len(small) < 10_000
    assert post(sb, small, headers=headers).status_code == 400
    assert post(sb, b"not gzip", headers=headers).status_code == 400


def test_keep_alive_reuses_one_connection(sb: Sandbox) -> None:
    with requests.Session() as s:
        for i in range(3):
            r = s.post(sb.url + "/v1/batch", json={"batch": [msg(i)]}, auth=(KEY, ""), timeout=5)
            assert r.status_code == 200
    snap = sb.stats.snapshot()
    assert snap["connections"] == 1 and snap["accepted_messages"] == 3


def test_unknown_path_404_and_other_methods_405(sb: Sandbox) -> None:
    assert post(sb, {"batch": [msg(1)]}, path="/v1/page-views").status_code == 404
    r = requests.get(sb.url + "/v1/batch", timeout=5)
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    chunked = iter([orjson.dumps({"batch": [msg(1)]})])  # a generator body is sent chunked
    assert post(sb, chunked).status_code == 411


def test_fail_429_answers_with_retry_after(out: Path) -> None:
    with Sandbox(output=out, faults=Faults(fail_429=1.0, retry_after=3)) as sandbox:
        r = post(sandbox, {"batch": [msg(1)]})
        assert r.status_code == 429 and r.headers["Retry-After"] == "3"
        assert int(r.headers["X-RateLimit-Reset"]) >= int(time.time()) + 2
        assert sandbox.stats.snapshot()["accepted_messages"] == 0
    assert out.read_bytes() == b""


def _failures(seed: int) -> list[int]:
    with Sandbox(faults=Faults(fail_500=0.5, seed=seed)) as sandbox, requests.Session() as s:
        codes = [
            s.post(sandbox.url + "/v1/batch", json={"batch": [msg(i)]}, auth=(KEY, "")).status_code
            for i in range(200)
        ]
        assert sandbox.stats.snapshot()["statuses"] == {c: codes.count(c) for c in set(codes)}
    return codes


def test_fail_500_share_is_roughly_half_and_seeded() -> None:
    codes = _failures(seed=7)
    assert set(codes) == {200, 500}
    assert 70 <= codes.count(500) <= 130
    assert _failures(seed=7) == codes  # sequential requests get the same draws


def test_drop_closes_without_an_answer() -> None:
    with Sandbox(faults=Faults(drop=1.0)) as sandbox:
        with pytest.raises(requests.ConnectionError):
            post(sandbox, {"batch": [msg(1)]})
        assert sandbox.stats.snapshot()["dropped"] == 1


def test_latency_and_always_status() -> None:
    with Sandbox(faults=Faults(always_status=503, latency_ms=150)) as sandbox:
        started = time.monotonic()
        r = post(sandbox, {"batch": [msg(1)]})
        assert r.status_code == 503 and r.json()["success"] is False
        assert time.monotonic() - started >= 0.15


def test_held_answers_come_once_released_and_the_batches_are_taken_meanwhile(
    sb: Sandbox, out: Path
) -> None:
    sb.hold_answers()
    answers: list[requests.Response] = []
    clients = [
        threading.Thread(target=lambda i=i: answers.append(post(sb, {"batch": [msg(i)]})))
        for i in range(2)
    ]
    for client in clients:
        client.start()
    deadline = time.monotonic() + 10
    while sb.stats.snapshot()["accepted_batches"] < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    # both batches are taken and recorded, and neither client has its answer
    assert sb.stats.snapshot()["accepted_batches"] == 2 and len(lines(out)) == 2
    assert answers == [] and all(client.is_alive() for client in clients)
    sb.release_answers()
    for client in clients:
        client.join(10)
    assert [r.status_code for r in answers] == [200, 200]
    assert post(sb, {"batch": [msg(3)]}).status_code == 200  # answered as it comes, now


def test_stop_ends_held_answers() -> None:
    sandbox = Sandbox().start()
    sandbox.hold_answers()
    ended: list[str] = []

    def send() -> None:
        try:
            ended.append(str(post(sandbox, {"batch": [msg(1)]}).status_code))
        except requests.ConnectionError:
            ended.append("cut")

    client = threading.Thread(target=send)
    client.start()
    deadline = time.monotonic() + 10
    while sandbox.stats.snapshot()["accepted_batches"] < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ended == []
    sandbox.stop()
    client.join(10)
    assert ended in (["200"], ["cut"])


def test_fail_200_reports_an_error_and_echo_authorization_quotes_the_credentials() -> None:
    with Sandbox(write_key=KEY, faults=Faults(fail_200=1.0, echo_authorization=True)) as sandbox:
        r = post(sandbox, {"batch": [msg(1)]})
        assert r.status_code == 200 and r.json()["success"] is False and r.json()["error"]
        assert basic(KEY)["Authorization"] in r.text and KEY in r.text
        snap = sandbox.stats.snapshot()
        assert snap["statuses"] == {200: 1} and snap["accepted_batches"] == 0
    parser = argparse.ArgumentParser()
    add_sandbox_arguments(parser)
    args = parser.parse_args(["--fail-200", "0.5", "--echo-authorization"])
    assert args.fail_200 == 0.5 and args.echo_authorization


def test_count_only_counts_without_recording(out: Path) -> None:
    with Sandbox(output=out, write_key=KEY, count_only=True) as sandbox:
        assert post(sandbox, {"batch": [msg(i) for i in range(10)]}).status_code == 200
        assert post(sandbox, {"batch": [msg(1)]}, headers=JSON).status_code == 401
        assert post(sandbox, {"batch": [msg(1)]}, headers=basic("x")).status_code == 401
        body_key = {"batch": [msg(i) for i in range(4)], "writeKey": KEY}
        assert post(sandbox, body_key, headers=JSON).status_code == 200
        snap = sandbox.stats.snapshot()
        assert snap["accepted_messages"] == 14 and snap["accepted_batches"] == 2
        assert snap["unique_message_ids"] == 0
    assert not out.exists()


def test_stop_cuts_keep_alive_connections() -> None:
    sandbox = Sandbox().start()
    with requests.Session() as s:
        url = sandbox.url + "/v1/batch"
        assert s.post(url, json={"batch": [msg(1)]}, auth=(KEY, "")).status_code == 200
        sandbox.stop()
        with pytest.raises(requests.ConnectionError):
            s.post(url, json={"batch": [msg(2)]}, auth=(KEY, ""), timeout=5)


def test_write_key_never_printed_or_recorded(
    tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stop = threading.Event()
    port_file = tmp_path / "port"
    result: dict = {}

    def serve() -> None:
        result.update(run_sandbox(output=out, write_key=KEY, port_file=port_file, stop=stop))

    thread = threading.Thread(target=serve)
    thread.start()
    deadline = time.monotonic() + 5
    while not port_file.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    url = f"http://127.0.0.1:{int(port_file.read_text())}"
    r = requests.post(url + "/v1/batch", json={"batch": [msg(1)], "writeKey": KEY}, timeout=5)
    assert r.status_code == 200
    single = {**msg(2), "writeKey": KEY}
    assert requests.post(url + "/v1/track", json=single, timeout=5).status_code == 200
    r = requests.post(url + "/v1/batch", json={"batch": [msg(3)]}, auth=("wrong", ""), timeout=5)
    assert r.status_code == 401 and "wrong" not in r.text
    # a raw, malformed request must not make the server print anything either
    conn = http.client.HTTPConnection("127.0.0.1", int(port_file.read_text()), timeout=5)
    conn.request("POST", "/v1/batch", body=b"{", headers={**JSON, "Authorization": KEY})
    assert conn.getresponse().status == 400
    conn.close()
    stop.set()
    thread.join(5)
    assert result["accepted_messages"] == 2
    captured = capsys.readouterr()
    assert f"sandbox listening on {url}" in captured.out.splitlines()
    assert "2 messages accepted" in captured.out
    assert KEY not in captured.out + captured.err
    assert len(lines(out)) == 2 and KEY.encode() not in out.read_bytes()


def test_cli_arguments_build_faults() -> None:
    parser = argparse.ArgumentParser()
    add_sandbox_arguments(parser)
    args = parser.parse_args(["--fail-429", "0.2", "--fail-500", "0.9", "--count-only"])
    assert args.count_only and args.port == 0 and args.host == "127.0.0.1"
    assert sandbox_command(args) == 2  # shares over 1 are refused before anything listens
    with pytest.raises(ValueError):
        Faults(always_status=200)


def test_sandbox_command_stops_on_sigterm(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    script = (
        "import argparse, sys\n"
        "from dbt_segment_profiles.sandbox import add_sandbox_arguments, sandbox_command\n"
        "p = argparse.ArgumentParser(); add_sandbox_arguments(p)\n"
        "sys.exit(sandbox_command(p.parse_args(sys.argv[1:])))\n"
    )
    args = ["--port-file", str(port_file), "--write-key", KEY, "--output", str(tmp_path / "o")]
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{int(port_file.read_text())}/v1/batch"
        r = requests.post(url, json={"batch": [msg(1)]}, auth=(KEY, ""), timeout=5)
        assert r.status_code == 200
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert stdout.decode().startswith("sandbox listening on http://127.0.0.1:")
    assert "1 messages accepted in 1 batches" in stdout.decode()
    assert KEY not in (stdout + stderr).decode()


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port something else is listening on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_sandbox_on_a_port_in_use_says_so_in_one_line_and_exits_2(
    taken_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_sandbox_arguments(parser)
    out = tmp_path / "received.jsonl"
    args = parser.parse_args(["--port", str(taken_port), "--output", str(out)])
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    assert sandbox_command(args) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"sandbox: 127.0.0.1:{taken_port} is already in use; pick another with --port\n"
    )
    assert captured.out == ""
    # nothing is left behind: the signal handlers are the caller's again
    assert {s: signal.getsignal(s) for s in handlers} == handlers


def test_dbt_segment_sandbox_on_a_port_in_use_prints_no_traceback(taken_port: int) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dbt-segment"), "sandbox", "--port", str(taken_port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"sandbox: 127.0.0.1:{taken_port} is already in use; pick another with --port"
    ]
