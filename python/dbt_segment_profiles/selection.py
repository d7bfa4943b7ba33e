"""Which mappings a command works on: dbt's own selection syntax, plus mapping names."""

from __future__ import annotations

import contextlib
import fnmatch
import io
import json
from collections.abc import Iterable

from .errors import SegmentProfilesError
from .mappings import Mapping
from .project import DbtProject, dbt_flags


def select_mappings(
    project: DbtProject,
    mappings: list[Mapping],
    select: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    selector: str | None = None,
    cli_vars: str | None = None,
) -> list[Mapping]:
    """Mappings chosen as `dbt ls` chooses models (graph operators, `tag:`, `path:`,
    `config.meta...`, `--selector` from selectors.yml), where a term that names mappings (shell
    wildcards allowed) selects those mappings themselves."""
    chosen_terms = _terms(select)
    excluded_terms = _terms(exclude)
    if not chosen_terms and not selector:
        chosen = list(mappings)
    else:
        by_name, for_dbt = _split(mappings, chosen_terms)
        models = (
            _dbt_models(project, for_dbt, selector, cli_vars) if (for_dbt or selector) else set()
        )
        chosen = [m for m in mappings if m.name in by_name or m.model_id in models]
    if excluded_terms:
        by_name, for_dbt = _split(mappings, excluded_terms)
        models = _dbt_models(project, for_dbt, None, cli_vars) if for_dbt else set()
        chosen = [m for m in chosen if m.name not in by_name and m.model_id not in models]
    return chosen


def _terms(values: Iterable[str] | None) -> list[str]:
    # dbt accepts `-s a b`, `-s "a b"` and `-s a -s b`: all are a list of space-separated terms
    return [term for value in values or () for term in str(value).split() if term]


def _split(mappings: list[Mapping], terms: list[str]) -> tuple[set[str], list[str]]:
    """Terms naming mappings (matched here) and the rest (left to dbt's selector)."""
    by_name: set[str] = set()
    for_dbt: list[str] = []
    for term in terms:
        named = {m.name for m in mappings if fnmatch.fnmatchcase(m.name, term)}
        if named:
            by_name |= named
        else:
            for_dbt.append(term)
    return by_name, for_dbt


def _dbt_models(
    project: DbtProject,
    select: list[str],
    selector: str | None,
    cli_vars: str | None,
) -> set[str]:
    from dbt.cli.main import dbtRunner

    args = ["ls", "--resource-type", "model", "--output", "json", "--output-keys", "unique_id"]
    args += ["--quiet", "--no-print", "--log-level", "none"]
    if select:
        args += ["--select", *select]
    if selector:
        args += ["--selector", selector]
    # dbt ls prints its list; the list is read from the result instead, stdout stays ours
    with contextlib.redirect_stdout(io.StringIO()):
        result = dbtRunner().invoke([*args, *dbt_flags(project, cli_vars)])
    if not result.success:
        raise SegmentProfilesError(
            f"dbt could not resolve the selection: {result.exception or 'see `dbt ls`'}",
            hint="the same --select/--exclude/--selector must work with `dbt ls`",
        )
    found = set()
    for line in result.result or []:
        try:
            found.add(json.loads(line)["unique_id"])
        except (ValueError, KeyError, TypeError):
            found.add(str(line))
    return found
