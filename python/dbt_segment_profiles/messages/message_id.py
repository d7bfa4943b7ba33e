"""The messageId of a change: derived here and nowhere else (golden files pin its bytes)."""

from __future__ import annotations

import hashlib
from typing import Any


class MessageIds:
    """The messageIds of one mapping's changes; the mapping's part of the hash is done once."""

    __slots__ = ("_seed",)

    def __init__(self, mapping_name: str):
        self._seed = hashlib.blake2b(
            f"{mapping_name}\x1f".encode("utf-8", "surrogatepass"), digest_size=16
        )

    def derive(self, key: Any, row_hash: str | None, operation: str, version: int = 0) -> str:
        """The same for every resend of one change (Segment de-duplicates them), different for
        every new change of the key (its change version)."""
        digest = self._seed.copy()
        # The key goes last: it is the only part that might contain the separator.
        digest.update(
            f"{operation}\x1f{row_hash or ''}\x1f{version}\x1f{key}".encode(
                "utf-8", "surrogatepass"
            )
        )
        return "sp-" + digest.hexdigest()


def message_id_for(
    mapping_name: str, key: Any, row_hash: str | None, operation: str, version: int = 0
) -> str:
    """The deterministic messageId of a change of `mapping_name` (see MessageIds.derive)."""
    return MessageIds(mapping_name).derive(key, row_hash, operation, version)
