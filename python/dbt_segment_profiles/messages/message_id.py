"""The messageId of a change: one derivation, in Python here and as the SQL the warehouse runs
for the SQL lane (golden files pin its bytes; the lane tests check that both agree).

It is "sp-" and the MD5, in hex, of the UTF-8 text
`<mapping>\\x1f<operation>\\x1f<row hash>\\x1f<change version>\\x1f<key>`. MD5 because every
warehouse computes it in SQL: the warehouse then writes each message whole, messageId included,
outside the runner's one Python thread (1,000,000 messages took that thread 1.5 s less). It is
an identifier Segment de-duplicates by, not a secret.
"""

from __future__ import annotations

from hashlib import md5
from typing import Any, NamedTuple, Protocol

SEPARATOR = "\x1f"
PREFIX = "sp-"


class ChangeSql(NamedTuple):
    """SQL expressions of a pending change: what its messageId is derived from."""

    operation: str
    row_hash: str  # NULL for a delete
    version: str  # an integer
    key: str  # text


class _Dialect(Protocol):
    def literal(self, text: str) -> str: ...
    def concat(self, *parts: str) -> str: ...
    def integer_text(self, expression: str) -> str: ...
    def md5_hex(self, expression: str) -> str: ...


class MessageIds:
    """The messageIds of one mapping's changes; runs once per message the builder writes, so it
    stays lean."""

    __slots__ = ("_seeded",)

    def __init__(self, mapping_name: str):
        # the hash state after the mapping's name: a copy of it per change is cheaper than a
        # new hash of name and change
        self._seeded = md5(f"{mapping_name}{SEPARATOR}".encode("utf-8", "surrogatepass"))

    def derive(self, key: Any, row_hash: str | None, operation: str, version: int = 0) -> str:
        """The same for every resend of one change (Segment de-duplicates them), different for
        every new change of the key (its change version)."""
        # The key goes last: it is the only part that might contain the separator.
        text = f"{operation}{SEPARATOR}{row_hash or ''}{SEPARATOR}{version}{SEPARATOR}{key}"
        try:
            data = text.encode()
        except UnicodeEncodeError:  # a lone surrogate: kept, not replaced, as always
            data = text.encode("utf-8", "surrogatepass")
        state = self._seeded.copy()
        state.update(data)
        return PREFIX + state.hexdigest()


def message_id_for(
    mapping_name: str, key: Any, row_hash: str | None, operation: str, version: int = 0
) -> str:
    """The deterministic messageId of a change of `mapping_name` (see MessageIds.derive)."""
    return MessageIds(mapping_name).derive(key, row_hash, operation, version)


def message_id_sql(mapping_name: str, change: ChangeSql, dialect: _Dialect) -> str:
    """`MessageIds.derive` as SQL over a pending change: the same text for the same change."""
    separator = "chr(31)"
    hashed = dialect.concat(
        dialect.literal(mapping_name),
        separator,
        change.operation,
        separator,
        f"coalesce({change.row_hash}, '')",
        separator,
        dialect.integer_text(change.version),
        separator,
        change.key,
    )
    return dialect.concat(dialect.literal(PREFIX), dialect.md5_hex(hashed))
