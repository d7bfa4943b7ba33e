"""The messageId of a change: derived here and nowhere else (golden files pin its bytes)."""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import blake2b
from typing import Any


class MessageIds:
    """The messageIds of one mapping's changes; runs once per message sent, so it stays lean."""

    __slots__ = ("_prefix",)

    def __init__(self, mapping_name: str):
        self._prefix = f"{mapping_name}\x1f".encode("utf-8", "surrogatepass")

    def derive(self, key: Any, row_hash: str | None, operation: str, version: int = 0) -> str:
        """The same for every resend of one change (Segment de-duplicates them), different for
        every new change of the key (its change version)."""
        # The key goes last: it is the only part that might contain the separator.
        text = f"{operation}\x1f{row_hash or ''}\x1f{version}\x1f{key}"
        try:
            data = text.encode()
        except UnicodeEncodeError:  # a lone surrogate: kept, not replaced, as always
            data = text.encode("utf-8", "surrogatepass")
        # one hash of mapping name and change (hashing them in two updates is slower)
        return "sp-" + blake2b(self._prefix + data, digest_size=16).hexdigest()

    def derive_many(
        self,
        keys: Sequence[Any],
        row_hashes: Sequence[str | None],
        operations: Sequence[str],
        versions: Sequence[int],
    ) -> list[str]:
        """`derive` of each change in turn, in one comprehension (no call per change)."""
        prefix = self._prefix
        try:
            return [
                "sp-"
                + blake2b(
                    prefix + f"{o}\x1f{h or ''}\x1f{v}\x1f{k}".encode(), digest_size=16
                ).hexdigest()
                for k, h, o, v in zip(keys, row_hashes, operations, versions)
            ]
        except UnicodeEncodeError:  # a lone surrogate somewhere: each on its own
            return list(map(self.derive, keys, row_hashes, operations, versions))


def message_id_for(
    mapping_name: str, key: Any, row_hash: str | None, operation: str, version: int = 0
) -> str:
    """The deterministic messageId of a change of `mapping_name` (see MessageIds.derive)."""
    return MessageIds(mapping_name).derive(key, row_hash, operation, version)
