"""What the SQL lane needs to know of a warehouse's SQL: literals, identifiers, which column
types it renders exactly as the Python builder does, and how.

One class per warehouse whose lane exists (DuckDB today); another warehouse adds a subclass and
an entry in DIALECTS, and the lane (`sql_lane.py`) stays as it is.
"""

from __future__ import annotations

from .values import ValueProblem, to_id

# DuckDB's type names, as its cursor describes columns
_SMALL_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT"}
_SMALL_INTEGERS |= {"UINTEGER", "UBIGINT"}
_WIDE_INTEGERS = {"HUGEINT", "UHUGEINT"}
_TIMESTAMPS = {"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"}
_ISO = "'%Y-%m-%dT%H:%M:%S.%gZ'"


class DuckDBDialect:
    """DuckDB: `to_json` writes strings, integers and booleans byte for byte as orjson does."""

    name = "duckdb"

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def literal(self, text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    def column(self, name: str) -> str:
        """A pending table's column, in the lane's query (the table is aliased `p`)."""
        return f"p.{self.quote(name)}"

    def json_text(self, expression: str) -> str:
        """The JSON text of a value whose kind the lane accepts; NULL for NULL."""
        return f"cast(to_json({expression}) as varchar)"

    def byte_length(self, expression: str) -> str:
        return f"strlen({expression})"

    def is_integer(self, kind: str) -> bool:
        """Integers orjson writes as they are (at most 64 bits)."""
        return kind in _SMALL_INTEGERS

    def is_exact_number(self, kind: str) -> bool:
        """Numbers sent as their exact digits, as DuckDB prints them (DECIMAL, 128-bit)."""
        return kind in _WIDE_INTEGERS or kind.startswith("DECIMAL(")

    def exact_number_text(self, expression: str, kind: str) -> str:
        """A DECIMAL or 128-bit integer's digits as the builder prints them."""
        text = f"cast({expression} as varchar)"
        width, _, scale = kind.removeprefix("DECIMAL(").rstrip(")").partition(",")
        if scale and width.strip() == scale.strip():
            # DuckDB prints DECIMAL(4,4) -0.5 as -.5000: Python writes the zero
            return f"regexp_replace({text}, '^(-?)[.]', '\\10.')"
        return text

    def is_string(self, kind: str) -> bool:
        return kind == "VARCHAR"

    def is_boolean(self, kind: str) -> bool:
        return kind == "BOOLEAN"

    def is_double(self, kind: str) -> bool:
        return kind in ("DOUBLE", "FLOAT")

    def double(self, expression: str) -> str:
        # a FLOAT reaches Python as the double nearest it: print that double too
        return f"cast({expression} as double)"

    def not_finite(self, expression: str) -> str:
        return f"not isfinite({expression})"

    def temporal(self, expression: str, kind: str) -> str | None:
        """ISO-8601 UTC text with milliseconds, as the builder writes dates and timestamps."""
        if kind == "DATE" or kind in _TIMESTAMPS:
            return f"strftime({expression}, {_ISO})"
        if kind == "TIMESTAMP WITH TIME ZONE":
            return f"strftime(timezone('UTC', {expression}), {_ISO})"
        return None

    def id_text(self, column: str | None, kind: str, constant: object, field: str) -> str | None:
        """An identifier as text, NULL when NULL or empty (as the builder reads ids); None when
        only the builder can read it."""
        if column is None:
            try:
                value = to_id(constant, "constant", field)
            except ValueProblem:
                return None
            return "null" if value is None else self.literal(value)
        if self.is_string(kind):
            return f"nullif({self.column(column)}, '')"
        if self.is_integer(kind) or kind in _WIDE_INTEGERS:
            return f"cast({self.column(column)} as varchar)"
        return None

    def printable_ascii(self, expression: str) -> str:
        """True when the text holds only printable ASCII (where SQL's lower and trim agree
        with Python's)."""
        return f"regexp_full_match({expression}, '[ -~]*')"

    def json_column(self, expression: str, kind: str) -> tuple[str, str] | None:
        """A JSON column's value as the builder sends it (parsed, then written compactly), and
        the condition under which only the builder can tell; None when `kind` is not JSON.

        `json()` writes what orjson writes, except for duplicate keys (kept; Python keeps the
        last), numbers beyond a double or with exponents, and escapes: such rows (and any
        nested object, whose keys are not checked here) go to the builder."""
        if kind != "JSON":
            return None
        objects = f"strlen({expression}) - strlen(replace({expression}, '{{', ''))"
        keys = f"json_keys({expression})"
        python_if = (
            f"{expression} is not null and (contains({expression}, '\\') or "
            f"regexp_matches({expression}, '[0-9][eE]|[0-9]{{16}}') or {objects} > 1 or "
            f"len({keys}) <> len(list_distinct({keys})))"
        )
        return f"cast(json({expression}) as varchar)", python_if

    def nested_leaf_ok(self, kind: str) -> bool:
        """A STRUCT's or LIST's leaf type that `to_json` writes exactly as the builder does."""
        return kind in _SMALL_INTEGERS or kind in ("VARCHAR", "BOOLEAN")


DIALECTS = {"duckdb": DuckDBDialect()}
