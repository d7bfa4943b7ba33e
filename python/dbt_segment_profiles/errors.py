"""One exception type for everything a user must fix, carrying where and what to do."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the config: which model, mapping and key, and what is wrong."""

    model: str | None
    mapping: str | None
    key: str
    message: str

    def __str__(self) -> str:
        where = []
        if self.model:
            where.append(f"model {self.model}")
        if self.mapping:
            where.append(f"mapping {self.mapping}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.key} {self.message}" if prefix else f"{self.key} {self.message}"


class SegmentProfilesError(Exception):
    """An error the user can act on; `hint` says what to do next."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base}\n  -> {self.hint}" if self.hint else base


class ConfigError(SegmentProfilesError):
    """The config is wrong; nothing was sent."""

    def __init__(self, problems: list[ConfigProblem], hint: str | None = None):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the Segment config:\n{lines}", hint)
