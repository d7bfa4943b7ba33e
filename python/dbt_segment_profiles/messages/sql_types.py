"""Reading a warehouse's nested type names (DuckDB's `STRUCT(a INTEGER, "b c" VARCHAR[])`,
`VARCHAR[]`) down to their leaf types, so the SQL lane knows whether it can render a value."""

from __future__ import annotations


class _Reader:
    def __init__(self, text: str):
        self.text = text
        self.at = 0

    def peek(self, word: str) -> bool:
        return self.text.startswith(word, self.at)

    def take(self, word: str) -> None:
        if not self.peek(word):
            raise ValueError(f"expected {word!r} at {self.at} in {self.text!r}")
        self.at += len(word)

    def name(self) -> str:
        if self.peek('"'):
            end = self.at + 1
            while True:
                end = self.text.index('"', end)
                if self.text.startswith('""', end):
                    end += 2
                    continue
                break
            name = self.text[self.at + 1 : end].replace('""', '"')
            self.at = end + 1
            return name
        end = self.at
        while end < len(self.text) and self.text[end] not in " ,()[]":
            end += 1
        name = self.text[self.at : end]
        self.at = end
        return name

    def kind(self, leaves: list[str]) -> None:
        if self.peek("STRUCT("):
            self.take("STRUCT(")
            while True:
                self.name()
                self.take(" ")
                self.kind(leaves)
                if self.peek(", "):
                    self.take(", ")
                    continue
                self.take(")")
                break
        else:
            # a plain type: everything up to the next separator, parenthesised parts included
            start, depth = self.at, 0
            while self.at < len(self.text):
                char = self.text[self.at]
                if char == "(":
                    depth += 1
                elif char == ")":
                    if depth == 0:
                        break
                    depth -= 1
                elif depth == 0 and char in ",[":
                    break
                self.at += 1
            leaves.append(self.text[start : self.at])
        while self.peek("[]"):
            self.take("[]")


def nested_leaves(kind: str) -> list[str] | None:
    """The leaf types of a STRUCT or LIST type name; None for any other type, or a name this
    reader does not follow (the lane then leaves the column to the Python builder)."""
    if not (kind.startswith("STRUCT(") or kind.endswith("[]")):
        return None
    reader = _Reader(kind)
    leaves: list[str] = []
    try:
        reader.kind(leaves)
    except ValueError:
        return None
    return leaves if reader.at == len(kind) else None
