"""Package settings from `vars.segment_profiles`: bookkeeping schema and profile spaces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ConfigProblem

REGION_HOSTS = {
    "us": "https://api.segment.io",
    "eu": "https://events.eu1.segmentapis.com",
}
DEFAULT_RATE_LIMIT = 200.0
DEFAULT_CONNECTIONS = 4


@dataclass(frozen=True)
class ProfileSpace:
    name: str
    write_key_env: str
    region: str = "us"
    endpoint: str | None = None
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


@dataclass(frozen=True)
class Settings:
    schema: str
    profile_spaces: dict[str, ProfileSpace]


_SPACE_KEYS = {
    "write_key_env",
    "region",
    "endpoint",
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
            problem(key, "must be a mapping with write_key_env")
            continue
        for unknown in set(conf) - _SPACE_KEYS:
            problem(f"{key}.{unknown}", f"unknown key; expected {', '.join(sorted(_SPACE_KEYS))}")
        env = conf.get("write_key_env")
        if not isinstance(env, str) or not env:
            problem(f"{key}.write_key_env", "is missing: name the environment variable")
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
        endpoint = conf.get("endpoint")
        if isinstance(endpoint, str):
            # empty means unset, so `endpoint: "{{ env_var('SEGMENT_ENDPOINT', '') }}"` falls
            # back to the region's host when the variable is unset or empty
            endpoint = endpoint.strip() or None
        if endpoint is not None and not (
            isinstance(endpoint, str) and endpoint.startswith(("http://", "https://"))
        ):
            problem(
                f"{key}.endpoint",
                f"{endpoint!r} must be an http:// or https:// URL (or empty: the region's host)",
            )
            continue
        spaces[name] = ProfileSpace(
            name=name,
            write_key_env=env,
            region=region,
            endpoint=endpoint,
            gzip=bool(conf.get("gzip", False)),
            **numbers,
        )
    return Settings(schema=schema, profile_spaces=spaces), problems
