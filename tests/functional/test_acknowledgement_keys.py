"""Keys holding the characters a bulk write must escape are acknowledged exactly as read."""

from __future__ import annotations

from typing import Any

import pytest
from dbt.tests.util import run_dbt

from segment_testing import acknowledged_keys, by_mapping, received, segment

# tab, newline, carriage return, backslash, COPY's NULL marker, a quote, ASCII's unit separator
# (what separates the parts of a messageId's text, the key last), unicode
KEYS_SQL = """
select 'tab' || chr(9) || 'key' as id, 'a' as plan
union all select 'line' || chr(10) || 'key', 'b'
union all select 'return' || chr(13) || 'key', 'c'
union all select 'back\\slash', 'd'
union all select '\\N', 'e'
union all select 'it''s', 'f'
union all select 'plain', 'g'
union all select 'unit' || chr(31) || 'separator', 'h'
union all select 'Zoë 😀 東京', 'i'
"""
KEYS = [
    "tab\tkey",
    "line\nkey",
    "return\rkey",
    "back\\slash",
    "\\N",
    "it's",
    "plain",
    "unit\x1fseparator",
    "Zoë 😀 東京",
]

SCHEMA_YML = """
version: 2
models:
  - name: odd_keys
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: odd_keys_to_profiles
              action: identify
              profile_space: default
              fields:
                user_id: id
                traits: [plan]
"""


@pytest.mark.usefixtures("sandbox")
class TestAcknowledgementKeys:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"odd_keys.sql": KEYS_SQL, "schema.yml": SCHEMA_YML}

    def test_keys_with_separators_and_escapes_are_acknowledged_as_they_are(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        run_dbt(["run"])
        code, first = segment(project, "sync")
        assert code == 0, first
        assert by_mapping(first)["odd_keys_to_profiles"]["acknowledged"] == len(KEYS)
        assert sorted(m["userId"] for m in received(sandbox)) == sorted(KEYS)
        assert acknowledged_keys(project, "odd_keys_to_profiles") == sorted(KEYS)

        code, second = segment(project, "sync")
        assert code == 0, second
        assert by_mapping(second)["odd_keys_to_profiles"]["sent"] == 0
