"""dbt's manifest.json read a node at a time, keeping what the runner reads of it.

A large project's manifest is tens to hundreds of megabytes: each node's SQL, compiled SQL,
columns and docs, every macro, the parent and child maps. `json.loads` of a 97 MB manifest
(5,000 models) took 1.3 s and 345 MB more peak RSS than the runner's own work at 1,000,000 rows.
Here the file is read in chunks and each entry of a top-level object is decoded on its own and
let go, or cut down to what the runner reads: the peak is one entry and a chunk.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

# what the runner reads of a model node (mappings.py, project.py, capture_checks.py)
NODE_KEYS = (
    "unique_id",
    "name",
    "resource_type",
    "package_name",
    "language",
    "config",
    "tags",
    "relation_name",
    "database",
    "schema",
)
_KEPT_SECTIONS = ("metadata", "nodes")
_CHUNK_CHARS = 1 << 18
_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\n\r"


class ManifestError(ValueError):
    """The file is not a JSON object as dbt writes its manifest."""


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest's metadata, and its nodes: models cut down to NODE_KEYS, other nodes to
    their resource_type. Every other section is read past."""
    with open(path, encoding="utf-8") as file:
        reader = _Reader(file)
        manifest: dict[str, Any] = {}
        for section in reader.keys():
            if section == "nodes" and reader.peek() == "{":
                manifest["nodes"] = dict(reader.entries(kept_node))
            elif section in _KEPT_SECTIONS:
                manifest[section] = reader.value()
            elif reader.peek() == "{":
                # decoded an entry at a time and dropped: never the whole section at once
                for _ in reader.entries(lambda value: None):
                    pass
            else:
                reader.value()
        reader.end()
    return manifest


def kept_node(node: Any) -> Any:
    """What read_manifest keeps of a node."""
    if not isinstance(node, dict):
        return node
    if node.get("resource_type") != "model":
        return {"resource_type": node.get("resource_type")}
    return {key: node[key] for key in NODE_KEYS if key in node}


class _Reader:
    """The two outer levels of a JSON object, a chunk of text at a time; values decoded by
    the json module's own decoder."""

    def __init__(self, file: TextIO) -> None:
        self._file = file
        self._text = ""
        self._at = 0
        self._eof = False

    def _more(self) -> bool:
        if self._eof:
            return False
        chunk = self._file.read(max(_CHUNK_CHARS, len(self._text) - self._at))
        if not chunk:
            self._eof = True
            return False
        self._text = self._text[self._at :] + chunk
        self._at = 0
        return True

    def peek(self) -> str:
        """The next character that is not white space ('' at the end)."""
        while True:
            while self._at < len(self._text) and self._text[self._at] in _WHITESPACE:
                self._at += 1
            if self._at < len(self._text):
                return self._text[self._at]
            if not self._more():
                return ""

    def _expect(self, expected: str) -> None:
        found = self.peek()
        if found != expected:
            raise ManifestError(f"expected {expected!r} at character {self._at}, found {found!r}")
        self._at += 1

    def value(self) -> Any:
        """The next JSON value, whole."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self._text, self._at)
            except json.JSONDecodeError as exc:
                if self._more():
                    continue
                raise ManifestError(f"not valid JSON: {exc}") from None
            # a number or literal that ends with the text may go on in the next chunk
            if end == len(self._text) and self._more():
                continue
            self._at = end
            return value

    def keys(self) -> Iterator[str]:
        """The keys of the object that comes next, the reader left at each key's value for
        the caller to read."""
        self._expect("{")
        if self.peek() == "}":
            self._at += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise ManifestError(f"an object key must be a string, found {key!r}")
            self._expect(":")
            yield key
            separator = self.peek()
            self._at += 1
            if separator == "}":
                return
            if separator != ",":
                raise ManifestError(f"expected ',' or '}}' after the value of {key!r}")

    def entries(self, keep: Callable[[Any], Any]) -> Iterator[tuple[str, Any]]:
        """The entries of the object that comes next, each value decoded and passed to keep."""
        for key in self.keys():
            yield key, keep(self.value())

    def end(self) -> None:
        if self.peek() != "":
            raise ManifestError(f"unexpected text after the manifest at character {self._at}")
