"""What the sandbox accepts: Segment's limits, auth and message checks."""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

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
OK_BODY = orjson.dumps({"success": True})


class Reject(Exception):
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


def header_key(value: str | None) -> str | None:
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


def decode_body(raw: bytes, encoding: str) -> bytes:
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
            raise Reject(400, "body is not valid gzip") from None
        if len(body) <= MAX_BODY_BYTES and not inflater.eof:
            raise Reject(400, "gzip body is truncated")
    else:
        raise Reject(400, f"unsupported Content-Encoding: {encoding[:40]}")
    if len(body) > MAX_BODY_BYTES:
        raise Reject(400, f"body is over {MAX_BODY_BYTES} bytes (500 KB)")
    return body


def parse_body(body: bytes) -> dict[str, Any]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Reject(400, "body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise Reject(400, "body must be a JSON object")
    return doc


def with_exact_numbers(body: bytes, doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` (the body as orjson read it) with every number as the client wrote it.

    orjson reads numbers as doubles or 64-bit integers; to record a DECIMAL's digits or a wide
    integer as they were sent, a body that orjson would not write back unchanged is read again
    with each number kept as its text. Bodies orjson wrote itself take no second read.
    """
    if orjson.dumps(doc) == body:
        return doc
    # orjson accepted the body, so it is valid UTF-8 JSON with no NaN or lone surrogates
    try:
        return json.loads(body, parse_float=orjson.Fragment, parse_int=orjson.Fragment)
    except RecursionError:  # nesting orjson reads and Python's parser does not
        return doc


def message_problems(msg: Any, implied: str | None, size: int) -> list[str]:
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
