"""Package settings from `vars.segment_profiles`: bookkeeping schema and profile spaces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ConfigProblem

REGION_HOSTS = {
    "us": "https://api.segment.io",
    "eu": "https://events.eu1.segmentapis.com",
}
# the Public API, where a token looks up a Profile Space's write key by its source's name
PUBLIC_API_HOSTS = {
    "us": "https://api.segmentapis.com",
    "eu": "https://eu1.api.segmentapis.com",
}
DEFAULT_RATE_LIMIT = 200.0
DEFAULT_CONNECTIONS = 4


@dataclass(frozen=True)
class ProfileSpace:
    """One profile space: where its calls go, and how its write key is found.

    The write key comes from `write_key_env`, or is looked up at the start of a sync with the
    Public API token in `public_api_token_env`: the write key of the Profile Space's source
    named `source`. Exactly one of the two variables is set.
    """

    name: str
    write_key_env: str | None = None
    region: str = "us"
    endpoint: str | None = None
    public_api_token_env: str | None = None
    source: str | None = None
    public_api_endpoint: str | None = None
    gzip: bool = False
    connections: int = DEFAULT_CONNECTIONS
    requests_per_second: float = DEFAULT_RATE_LIMIT
    max_attempts: int = 8
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 30.0
    timeout_seconds: float = 30.0
    batch_size: int = 2_500

    @property
    def base_url(self) -> str:
        return (self.endpoint or REGION_HOSTS[self.region]).rstrip("/")

    @property
    def batch_url(self) -> str:
        base = self.base_url
        return f"{base}/batch" if base.endswith("/v1") else f"{base}/v1/batch"

    @property
    def public_api_url(self) -> str:
        return (self.public_api_endpoint or PUBLIC_API_HOSTS[self.region]).rstrip("/")

    @property
    def key_variable(self) -> str:
        """The environment variable this space's credentials come from."""
        return self.write_key_env or self.public_api_token_env or ""


@dataclass(frozen=True)
class Settings:
    schema: str
    profile_spaces: dict[str, ProfileSpace]


_SPACE_KEYS = {
    "write_key_env",
    "public_api_token_env",
    "source",
    "region",
    "endpoint",
    "public_api_endpoint",
    "gzip",
    "connections",
    "requests_per_second",
    "max_attempts",
    "backoff_seconds",
    "max_backoff_seconds",
    "timeout_seconds",
    "batch_size",
}


_NUMBER_KEYS = {
    "connections": int,
    "requests_per_second": float,
    "max_attempts": int,
    "backoff_seconds": float,
    "max_backoff_seconds": float,
    "timeout_seconds": float,
    "batch_size": int,
}


def parse_settings(raw: Any, target_schema: str) -> tuple[Settings, list[ConfigProblem]]:
    """Settings from the `segment_profiles` var; problems name the offending key."""
    problems: list[ConfigProblem] = []

    def problem(key: str, message: str) -> None:
        problems.append(ConfigProblem(None, None, f"vars.segment_profiles.{key}", message))

    raw = raw or {}
    if not isinstance(raw, dict):
        problem("", "must be a mapping")
        raw = {}
    schema = raw.get("schema") or f"{target_schema}_segment"
    spaces: dict[str, ProfileSpace] = {}
    raw_spaces = raw.get("profile_spaces") or {}
    if not isinstance(raw_spaces, dict):
        problem("profile_spaces", "must map profile space names to settings")
        raw_spaces = {}
    for name, conf in raw_spaces.items():
        key = f"profile_spaces.{name}"
        if not isinstance(conf, dict):
            problem(key, "must be a mapping with write_key_env (or public_api_token_env)")
            continue
        for unknown in set(conf) - _SPACE_KEYS:
            problem(f"{key}.{unknown}", f"unknown key; expected {', '.join(sorted(_SPACE_KEYS))}")
        credentials = _credentials(conf, key, problem)
        if credentials is None:
            continue
        raw_region = conf.get("region", "us")
        region = str(raw_region).strip().lower()
        if region not in REGION_HOSTS:
            problem(f"{key}.region", f"unknown region {raw_region!r}; expected us or eu")
            # still defined: its mappings are not also reported as naming an unknown space
            region = "us"
        numbers: dict[str, float] = {}
        for number_key, kind in _NUMBER_KEYS.items():
            if number_key not in conf:
                continue
            try:
                numbers[number_key] = kind(conf[number_key])
            except (TypeError, ValueError):
                numbers[number_key] = -1
            if numbers[number_key] <= 0:
                problem(f"{key}.{number_key}", f"{conf[number_key]!r} must be a positive number")
        if numbers.get("batch_size", 0) > 2_500:
            problem(f"{key}.batch_size", "must be at most 2500, Segment's limit per batch")
            continue
        if any(v <= 0 for v in numbers.values()):
            continue
        endpoint = _url(conf, "endpoint", key, problem)
        public_api_endpoint = _url(conf, "public_api_endpoint", key, problem)
        if endpoint is False or public_api_endpoint is False:
            continue
        spaces[name] = ProfileSpace(
            name=name,
            region=region,
            endpoint=endpoint,
            public_api_endpoint=public_api_endpoint,
            **credentials,
            gzip=bool(conf.get("gzip", False)),
            **numbers,
        )
    return Settings(schema=schema, profile_spaces=spaces), problems


def _credentials(conf: dict[str, Any], key: str, problem) -> dict[str, str | None] | None:
    """write_key_env, or public_api_token_env with source: exactly one way to the write key."""
    env, token_env, source = (
        conf.get(k) for k in ("write_key_env", "public_api_token_env", "source")
    )
    if env and token_env:
        problem(
            f"{key}.public_api_token_env",
            "and write_key_env are both set: name the write key's variable, or a Public API "
            "token's variable with source, not both",
        )
        return None
    if not token_env:
        if not isinstance(env, str) or not env:
            problem(
                f"{key}.write_key_env",
                "is missing: name the environment variable (or use public_api_token_env with "
                "source)",
            )
            return None
        for extra in ("source", "public_api_endpoint"):
            if conf.get(extra) not in (None, ""):
                problem(f"{key}.{extra}", "only applies with public_api_token_env")
                return None
        return {"write_key_env": env}
    if not isinstance(token_env, str):
        problem(f"{key}.public_api_token_env", "must name an environment variable")
        return None
    if not isinstance(source, str) or not source.strip():
        problem(
            f"{key}.source",
            "is missing: name the Profile Space's source (as text), as `dbt-segment spaces` "
            "lists it",
        )
        return None
    return {"public_api_token_env": token_env, "source": source.strip()}


def _url(conf: dict[str, Any], name: str, key: str, problem) -> str | None | bool:
    """An optional http(s) URL; empty means unset. False when it is not a URL (a problem)."""
    value = conf.get(name)
    if isinstance(value, str):
        # empty means unset, so `endpoint: "{{ env_var('SEGMENT_ENDPOINT', '') }}"` falls
        # back to the region's host when the variable is unset or empty
        value = value.strip() or None
    if value is not None and not (
        isinstance(value, str) and value.startswith(("http://", "https://"))
    ):
        problem(
            f"{key}.{name}",
            f"{value!r} must be an http:// or https:// URL (or empty: the region's host)",
        )
        return False
    return value
