"""Segment's Public API: the sources a token can see, and a Profile Space's write key by name.

Segment's own setup of this destination asks for a Public API token (Source Admin) and lists the
internal sources of the workspace's Profile Spaces; the calls use the chosen source's write key.
Here the token comes from an environment variable, the key is looked up once at the start of a
sync, and both stay in this process's memory: never printed, logged, stored or written.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from .. import __version__
from ..errors import SegmentProfilesError
from ..logs import LOGGER
from ..settings import ProfileSpace
from .redaction import Redactor
from .retry import RetryPolicy, is_retryable, parse_retry_after

PROFILE_SPACE_KIND = "personas-compute"  # the `metadata.slug` of a Profile Space's source
FIRST_CURSOR = "MA=="
PAGE_COUNT = 200
MAX_PAGES = 10_000  # a guard against a server whose `next` never ends
MAX_REASON_CHARS = 300


class PublicApiError(SegmentProfilesError):
    """The Public API refused, failed, or has no single Profile Space by that name."""


class LookupInterrupted(SegmentProfilesError):
    """Ctrl-C or SIGTERM during the lookup: nothing was sent."""


@dataclass(frozen=True)
class PublicSource:
    """A source the token can see; `kind` is its `metadata.slug`."""

    id: str
    name: str
    slug: str
    kind: str
    enabled: bool = True
    write_key: str | None = field(default=None, repr=False, compare=False)

    @property
    def is_profile_space(self) -> bool:
        return self.kind == PROFILE_SPACE_KIND

    def describe(self) -> dict[str, Any]:
        """What may be shown: everything but the write key."""
        return {
            "name": self.name,
            "slug": self.slug,
            "id": self.id,
            "kind": self.kind,
            "enabled": self.enabled,
        }


def _source(raw: dict[str, Any]) -> PublicSource:
    keys = raw.get("writeKeys") or []
    metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    return PublicSource(
        id=str(raw.get("id") or ""),
        name=str(raw.get("name") or ""),
        slug=str(raw.get("slug") or ""),
        kind=str(metadata.get("slug") or ""),
        enabled=bool(raw.get("enabled", True)),
        write_key=keys[0]
        if isinstance(keys, list) and keys and isinstance(keys[0], str)
        else None,
    )


class WriteKeys(dict[str, str]):
    """Each profile space's write key, by the space's name; its repr shows no key."""

    def __repr__(self) -> str:
        return f"WriteKeys({', '.join(sorted(self))})"


class _BearerToken(requests.auth.AuthBase):
    """The token as the request's auth, not as a plain header: requests puts a `~/.netrc` entry
    for the host in place of the Authorization header of any request that has no auth."""

    def __init__(self, token: str):
        self._value = f"Bearer {token}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._value
        return request

    def __repr__(self) -> str:  # never the token
        return "_BearerToken([redacted])"


class PublicApiClient:
    """Lists the sources one token can see, following the pages; retries as the sender does."""

    def __init__(
        self,
        space: ProfileSpace,
        token: str,
        stop: threading.Event | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.space = space
        self.url = f"{space.public_api_url}/sources"
        self.policy = RetryPolicy(
            space.max_attempts, space.backoff_seconds, space.max_backoff_seconds
        )
        self.stop = stop or threading.Event()
        self.pages = 0
        self._rng = rng or random.Random()
        self._auth = _BearerToken(token)
        self._headers = {
            "Accept": "application/json",
            "User-Agent": f"dbt-segment-profiles/{__version__}",
        }
        self._redact = Redactor(token)

    def __repr__(self) -> str:  # never the token
        return f"PublicApiClient({self.url!r})"

    def sources(self) -> list[PublicSource]:
        """Every source the token can see, over as many pages as the API gives."""
        found: list[PublicSource] = []
        cursor, seen = FIRST_CURSOR, {FIRST_CURSOR}
        with requests.Session() as session:
            for _ in range(MAX_PAGES):
                data = self._page(session, cursor)
                found += [
                    _source(raw) for raw in data.get("sources") or [] if isinstance(raw, dict)
                ]
                pagination = data.get("pagination")
                cursor = pagination.get("next") if isinstance(pagination, dict) else None
                if not cursor:
                    return found
                if cursor in seen:
                    break
                seen.add(cursor)
        raise self._error(f"its pagination does not end (cursor {str(cursor)[:40]!r} again)")

    def _page(self, session: requests.Session, cursor: str) -> dict[str, Any]:
        params = {"pagination[count]": str(PAGE_COUNT), "pagination[cursor]": cursor}
        attempt, reason = 0, "not asked"
        while attempt < self.policy.max_attempts:
            attempt += 1
            retry_after = None
            try:
                response = session.get(
                    self.url,
                    params=params,
                    headers=self._headers,
                    auth=self._auth,
                    timeout=self.space.timeout_seconds,
                )
            except requests.RequestException as exc:
                reason = f"no answer ({type(exc).__name__})"
            else:
                if 200 <= response.status_code < 300:
                    self.pages += 1
                    return self._data(response)
                reason = self._reason(response)
                if response.status_code in (401, 403):
                    raise self._refused(reason)
                if not is_retryable(response.status_code):
                    raise self._error(f"it answered {reason}")
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt < self.policy.max_attempts:
                delay = self.policy.delay(attempt, retry_after, self._rng)
                if self.stop.wait(delay):
                    raise LookupInterrupted(
                        f"interrupted while listing the sources of profile space "
                        f"{self.space.name!r}: nothing was sent"
                    )
        raise self._error(f"{reason} (after {attempt} attempts)")

    def _data(self, response: requests.Response) -> dict[str, Any]:
        try:
            doc = response.json()
        except ValueError:
            doc = None
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("sources", []), list):
            raise self._error(
                f"it answered HTTP {response.status_code} without a list of sources: is "
                f"{self.space.public_api_url} Segment's Public API?"
            )
        return data

    def _reason(self, response: requests.Response) -> str:
        """The status and the API's own messages: the token redacted, then cut to length."""
        try:
            doc = response.json()
        except ValueError:
            doc = None
        errors = doc.get("errors") if isinstance(doc, dict) else None
        messages = [
            str(e.get("message") or e.get("type") or "")
            for e in (errors if isinstance(errors, list) else [])
            if isinstance(e, dict)
        ]
        text = "; ".join(m for m in messages if m) or response.text.strip()
        text = self._redact(f"HTTP {response.status_code}: {text}".rstrip(": "))
        return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."

    def _refused(self, reason: str) -> PublicApiError:
        space = self.space
        return PublicApiError(
            f"profile space {space.name!r}: the Public API at {space.public_api_url} refused "
            f"the token in {space.public_api_token_env} ({reason}); nothing was sent",
            hint="check the token, that it has the Source Admin role in the Profile Space's "
            f"workspace, and the region ({space.region}): an EU workspace needs region: eu",
        )

    def _error(self, what: str) -> PublicApiError:
        space = self.space
        return PublicApiError(
            f"profile space {space.name!r}: cannot list the sources at {self.url}: {what}; "
            "nothing was sent",
            hint="check the region and public_api_endpoint, then try `dbt-segment spaces`",
        )


def token_of(space: ProfileSpace, environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    token = (environ.get(space.public_api_token_env or "") or "").strip()
    if not token:
        raise PublicApiError(
            f"environment variable {space.public_api_token_env} (Public API token of profile "
            f"space {space.name!r}) is not set",
            hint="export it with a Public API token that has the Source Admin role",
        )
    return token


def choose(sources: list[PublicSource], space: ProfileSpace) -> PublicSource:
    """The Profile Space source `space.source` names: by name, else by slug or id (to tell
    apart two of one name). Raises PublicApiError naming what the token sees instead."""
    wanted = space.source or ""
    spaces = [s for s in sources if s.is_profile_space]
    matches = [s for s in spaces if s.name == wanted] or [
        s for s in spaces if wanted in (s.slug, s.id)
    ]
    where = f"profile space {space.name!r}"
    if len(matches) > 1:
        slugs = ", ".join(s.slug for s in matches)
        raise PublicApiError(
            f"{where}: {len(matches)} Profile Space sources the token sees are named "
            f"{wanted!r} (slugs {slugs}); nothing was sent",
            hint="set source: to the slug of the one to send to, or rename one in Segment",
        )
    if not matches:
        other = next((s for s in sources if s.name == wanted), None)
        if other is not None:
            raise PublicApiError(
                f"{where}: source {wanted!r} is not a Profile Space's (its kind is "
                f"{other.kind!r}, not {PROFILE_SPACE_KIND!r}); nothing was sent",
                hint="name the Profile Space's own source: `dbt-segment spaces` lists them",
            )
        names = ", ".join(repr(n) for n in sorted({s.name for s in spaces})) or "none"
        raise PublicApiError(
            f"{where}: no Profile Space source named {wanted!r}; the token sees "
            f"{len(spaces)}: {names}; nothing was sent",
            hint="set source: to one of these names, or check the token's workspace and the "
            f"region ({space.region})",
        )
    chosen = matches[0]
    if not chosen.write_key:
        raise PublicApiError(
            f"{where}: Profile Space source {chosen.name!r} has no write key; nothing was sent",
            hint="create a write key for it in Segment",
        )
    return chosen


def write_keys(
    spaces: Iterable[ProfileSpace],
    environ: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
) -> WriteKeys:
    """Each space's write key: from its variable, or looked up with its Public API token (one
    listing per token and host). Raises PublicApiError (a SegmentProfilesError) when one cannot
    be found, before anything is sent."""
    environ = os.environ if environ is None else environ
    keys = WriteKeys()
    listings: dict[tuple[str, str], list[PublicSource]] = {}
    for space in spaces:
        if space.write_key_env:
            keys[space.name] = environ.get(space.write_key_env, "")
            continue
        token = token_of(space, environ)
        listing = (space.public_api_url, space.public_api_token_env or "")
        if listing not in listings:
            client = PublicApiClient(space, token, stop)
            listings[listing] = client.sources()
            LOGGER.debug(
                "listed %s source(s) at %s in %s page(s)",
                len(listings[listing]),
                client.url,
                client.pages,
            )
        chosen = choose(listings[listing], space)
        LOGGER.debug(
            "profile space %r sends with the write key of Profile Space source %r (%s)",
            space.name,
            chosen.name,
            chosen.slug,
        )
        keys[space.name] = chosen.write_key or ""
    return keys
