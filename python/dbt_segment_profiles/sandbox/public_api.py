"""The sandbox's stand-in for Segment's Public API: `GET /sources`, paginated, Bearer auth.

Enough of it to look a Profile Space's write key up by its source's name: Segment's pagination
(`pagination[count]`, `pagination[cursor]`, the first cursor `MA==`, `data.pagination.next`
until it is null), its error shape (`{"errors": [{"type", "message"}]}`) and its 401 for a bad
token.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import threading
from typing import Any
from urllib.parse import parse_qs

import orjson

PROFILE_SPACE_SLUG = "personas-compute"
MAX_PAGE_COUNT = 1_000  # Segment's Public API answers 1..1000 items a page


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "source"


def public_source(
    name: str,
    write_key: str,
    *,
    kind: str = PROFILE_SPACE_SLUG,
    slug: str | None = None,
    source_id: str | None = None,
    workspace_id: str = "ws_sandbox",
    enabled: bool = True,
) -> dict[str, Any]:
    """A source as Segment's Public API lists it; `kind` is its `metadata.slug`, and a Profile
    Space's internal source has `personas-compute`."""
    slug = slug or _slug(name)
    return {
        "id": source_id or f"src_{slug}",
        "slug": slug,
        "name": name,
        "workspaceId": workspace_id,
        "enabled": enabled,
        "writeKeys": [write_key] if write_key else [],
        "metadata": {
            "id": f"meta_{kind}",
            "slug": kind,
            "name": "Personas Compute" if kind == PROFILE_SPACE_SLUG else kind,
            "description": "",
        },
        "settings": {},
        "labels": [],
    }


def encode_cursor(offset: int) -> str:
    """Segment's cursors look like base64 of an offset: `MA==` is the first page."""
    return base64.b64encode(str(offset).encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        offset = int(base64.b64decode(cursor, validate=True).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValueError(f"invalid pagination cursor {cursor[:40]!r}") from None
    if offset < 0:
        raise ValueError(f"invalid pagination cursor {cursor[:40]!r}")
    return offset


def _errors(kind: str, message: str) -> bytes:
    return orjson.dumps({"errors": [{"type": kind, "message": message}]})


class PublicApi:
    """The sources one token may list. `page_size` caps each page below the requested count,
    as a server may, so a client that follows `next` is tested over several pages."""

    def __init__(
        self,
        sources: list[dict[str, Any]],
        token: str | None = None,
        page_size: int | None = None,
        echo_authorization: bool = False,
    ) -> None:
        self.sources = list(sources)
        self._token = token
        self.page_size = page_size
        self.echo_authorization = echo_authorization
        # per GET /sources: its cursor, count and status; for tests
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # neither the token nor a write key
        return f"PublicApi({len(self.sources)} sources)"

    def _log(self, cursor: str | None, count: int | None, status: int) -> None:
        with self._lock:
            self.requests.append({"cursor": cursor, "count": count, "status": status})

    def answer(self, query: str, authorization: str | None) -> tuple[int, bytes]:
        """The status and body for `GET /sources?<query>`."""
        params = parse_qs(query, keep_blank_values=True)

        def param(name: str) -> str | None:
            values = params.get(f"pagination[{name}]") or params.get(f"pagination.{name}")
            return values[0] if values else None

        cursor, raw_count = param("cursor"), param("count")
        problem = self._auth_problem(authorization)
        if problem is not None:
            self._log(cursor, None, 401)
            return 401, _errors("unauthorized", problem)
        try:
            count = int(raw_count) if raw_count is not None else None
        except ValueError:
            count = None
        if count is None or not 1 <= count <= MAX_PAGE_COUNT:
            self._log(cursor, count, 400)
            message = f"pagination.count must be an integer from 1 to {MAX_PAGE_COUNT}"
            return 400, _errors("validation", message)
        try:
            offset = _decode_cursor(cursor) if cursor else 0
        except ValueError as error:
            self._log(cursor, count, 400)
            return 400, _errors("validation", str(error))
        size = min(count, self.page_size or count)
        page = self.sources[offset : offset + size]
        end = offset + len(page)
        pagination: dict[str, Any] = {
            "current": cursor or encode_cursor(0),
            "next": encode_cursor(end) if end < len(self.sources) else None,
            "previous": encode_cursor(max(offset - size, 0)) if offset else None,
            "totalEntries": len(self.sources),
        }
        self._log(cursor, count, 200)
        return 200, orjson.dumps({"data": {"sources": page, "pagination": pagination}})

    def _auth_problem(self, authorization: str | None) -> str | None:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            problem = "send Authorization: Bearer <Public API token>"
        elif self._token is not None and not hmac.compare_digest(
            token.encode(), self._token.encode()
        ):
            problem = "the token is not valid for this workspace"
        else:
            return None
        if self.echo_authorization:
            # what a careless proxy does: the credentials it got, in its error
            problem += f" (Authorization: {authorization})"
        return problem
