"""`dbt-segment spaces`: Segment's Profile Space dropdown, per profile space with a token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .context import Context
from .delivery.public_api import PublicApiClient, PublicSource, choose, token_of
from .errors import ConfigError, SegmentProfilesError


@dataclass
class SpaceListing:
    """What one profile space's Public API token can see: its Profile Spaces' sources (or,
    with `all_sources`, every source), never a key; and whether `source` names exactly one."""

    profile_space: str
    region: str
    public_api: str
    token_env: str
    source: str
    sources: list[PublicSource]
    problem: str | None = None  # why `source` does not name a single Profile Space source

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile_space": self.profile_space,
            "region": self.region,
            "public_api": self.public_api,
            "token_env": self.token_env,
            "source": self.source,
            "sources": [s.describe() for s in self.sources],
            "problem": self.problem,
        }


def spaces_context(ctx: Context, all_sources: bool = False) -> list[SpaceListing]:
    """Per profile space with a Public API token, the sources it can see. Raises
    SegmentProfilesError when none has a token, or a token is unset or refused."""
    settings_problems = [p for p in ctx.problems if p.key.startswith("vars.segment_profiles")]
    if settings_problems:
        raise ConfigError(settings_problems, hint="fix vars.segment_profiles in dbt_project.yml")
    with_token = [s for s in ctx.settings.profile_spaces.values() if s.public_api_token_env]
    if not with_token:
        raise SegmentProfilesError(
            "no profile space has a public_api_token_env",
            hint="set public_api_token_env and source on a profile space in "
            "vars.segment_profiles.profile_spaces",
        )
    listings: list[SpaceListing] = []
    seen: dict[tuple[str, str], list[PublicSource]] = {}
    for space in with_token:
        token = token_of(space)
        key = (space.public_api_url, space.public_api_token_env or "")
        if key not in seen:
            seen[key] = PublicApiClient(space, token).sources()
        sources = seen[key]
        problem = None
        try:
            choose(sources, space)
        except SegmentProfilesError as error:
            problem = str(error).split("\n")[0].removesuffix("; nothing was sent")
        shown = sources if all_sources else [s for s in sources if s.is_profile_space]
        listings.append(
            SpaceListing(
                space.name,
                space.region,
                space.public_api_url,
                space.public_api_token_env or "",
                space.source or "",
                sorted(shown, key=lambda s: (s.name.lower(), s.slug)),
                problem,
            )
        )
    return listings
