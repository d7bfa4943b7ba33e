"""What the SQL lane needs to know of a warehouse's SQL: literals, identifiers, which column
types it renders exactly as the Python builder does, and how.

One class per warehouse whose lane exists (DuckDB, Postgres); another warehouse adds a subclass
and an entry in DIALECTS, and the lane (`sql_lane.py`) stays as it is.
"""

from __future__ import annotations

from typing import NamedTuple

from ..iso_sql import pg_iso_utc
from .values import ValueProblem, to_id

# DuckDB's type names, as its cursor describes columns
_SMALL_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT"}
_SMALL_INTEGERS |= {"UINTEGER", "UBIGINT"}
_WIDE_INTEGERS = {"HUGEINT", "UHUGEINT"}
_TIMESTAMPS = {"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"}
_ISO = "'%Y-%m-%dT%H:%M:%S.%gZ'"


class JsonColumn(NamedTuple):
    text: str  # the value's JSON text (NULL for NULL)
    python_if: str  # the condition under which only the builder can write it
    lets: tuple[tuple[str, str], ...] = ()  # values computed once per row: see SqlLane.lets


class DuckDBDialect:
    """DuckDB: `to_json` writes strings, integers and booleans byte for byte as orjson does."""

    name = "duckdb"
    # DuckDB computes an expression repeated in a select once; Postgres computes every copy,
    # so there a status the lane reads several times per row is named once (SqlLane.lets)
    shares_subexpressions = True

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

    def concat(self, *parts: str) -> str:
        """Texts, none of them NULL, one after the other. DuckDB's `concat` writes the result
        once, where each `||` copies what the ones before it wrote."""
        return f"concat({', '.join(parts)})"

    def text_constant(self, value: str | None) -> str:
        """A text constant (NULL for None) that functions such as `json_text` accept."""
        return "null" if value is None else self.literal(value)

    def json_object(self, pairs: str) -> str | None:
        """A body object of (name, value) pairs as text; None: the lane concatenates it."""
        return f"cast(json_object({pairs}) as varchar)"

    def integer_text(self, expression: str) -> str:
        return f"cast({expression} as varchar)"

    def md5_hex(self, expression: str) -> str:
        """The MD5 of a text's UTF-8 bytes, in lower-case hex."""
        return f"md5({expression})"

    def contains(self, expression: str, text: str) -> str:
        return f"contains({expression}, {self.literal(text)})"

    def lower_trim(self, expression: str) -> str:
        """Lower case, spaces trimmed (as Python's on printable ASCII: see printable_ascii)."""
        return f"lower(trim({expression}))"

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

    def exact_number_python_if(self, expression: str, kind: str) -> str | None:
        """When an exact number's digits are not the builder's; None: never."""
        return None

    def is_string(self, kind: str) -> bool:
        return kind == "VARCHAR"

    def is_boolean(self, kind: str) -> bool:
        return kind == "BOOLEAN"

    def is_double(self, kind: str) -> bool:
        return kind in ("DOUBLE", "FLOAT")

    def double(self, expression: str) -> str:
        # a FLOAT reaches Python as the double nearest it: print that double too
        return f"cast({expression} as double)"

    def double_text(self, expression: str) -> str:
        """The JSON text of a `double` expression (rows where `not_finite` holds aside)."""
        return self.json_text(expression)

    def not_finite(self, expression: str) -> str:
        return f"not isfinite({expression})"

    def temporal(self, expression: str, kind: str) -> str | None:
        """ISO-8601 UTC text with milliseconds, as the builder writes dates and timestamps."""
        if kind == "DATE" or kind in _TIMESTAMPS:
            return f"strftime({expression}, {_ISO})"
        if kind == "TIMESTAMP WITH TIME ZONE":
            return f"strftime(timezone('UTC', {expression}), {_ISO})"
        return None

    def timestamp_python_if(self, text: str) -> str | None:
        """When the timestamp field's text (`temporal`) is not what the builder reads."""
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

    def ascii(self, expression: str) -> str:
        """True when the text holds only ASCII: as many bytes as characters (no regex)."""
        return f"strlen({expression}) = length({expression})"

    def json_column(self, expression: str, kind: str, name: str) -> JsonColumn | None:
        """A JSON column's value as the builder sends it (parsed, then written compactly), and
        the condition under which only the builder can tell; None when `kind` is not JSON.
        `name`: what a value computed once per row may be named (SqlLane.lets).

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
        return JsonColumn(f"cast(json({expression}) as varchar)", python_if)

    def nested_leaf_ok(self, kind: str) -> bool:
        """A STRUCT's or LIST's leaf type that `to_json` writes exactly as the builder does."""
        return kind in _SMALL_INTEGERS or kind in ("VARCHAR", "BOOLEAN")

    def nested_python_if(self, expression: str, kind: str) -> str | None:
        """When a STRUCT or LIST value whose leaves are fine is still the builder's to write."""
        return None


# Postgres' type names, as format_type() gives them (PostgresWarehouse.column_types)
_PG_INTEGERS = {"smallint", "integer", "bigint"}


def _pg_temporal_kind(kind: str) -> str | None:
    if kind == "date":
        return "date"
    if kind.startswith("timestamp"):
        if kind.endswith(" with time zone"):
            return "timestamptz"
        if kind.endswith(" without time zone"):
            return "timestamp"
    return None


class PostgresDialect(DuckDBDialect):
    """Postgres 15. Bodies are always concatenated JSON texts (json_build_object's numbers are
    not orjson's): `to_json(text)` escapes as orjson does (`"`, `\\`, and below 0x20: \\b \\f
    \\n \\r \\t or \\u00xx, the rest raw); integers, numerics and booleans print as JSON;
    doubles print the shortest round-trip digits as orjson does in plain notation (an integral
    one gains ".0"); anything in exponent notation, NaN or infinite goes to the builder, as do
    jsonb values other than strings, booleans, null and plain integers, and arrays other than
    one-dimensional ones from index 1 of integers, text and booleans."""

    shares_subexpressions = False

    name = "postgres"

    def concat(self, *parts: str) -> str:
        # Postgres' `concat` takes "any" and calls each argument's output function
        return " || ".join(parts)

    def json_text(self, expression: str) -> str:
        return f"cast(to_json({expression}) as text)"

    def text_constant(self, value: str | None) -> str:
        return "cast(null as text)" if value is None else f"cast({self.literal(value)} as text)"

    def json_object(self, pairs: str) -> str | None:
        return None

    def integer_text(self, expression: str) -> str:
        return f"cast({expression} as text)"

    def md5_hex(self, expression: str) -> str:
        # the UTF-8 bytes whatever the database's encoding, as the runner hashes them
        return f"md5(convert_to({expression}, 'UTF8'))"

    def contains(self, expression: str, text: str) -> str:
        return f"(strpos({expression}, {self.literal(text)}) > 0)"

    def lower_trim(self, expression: str) -> str:
        # the "C" collation lowers ASCII letters only, whatever the database's locale
        return f'lower(trim({expression}) collate "C")'

    def is_integer(self, kind: str) -> bool:
        return kind in _PG_INTEGERS

    def is_exact_number(self, kind: str) -> bool:
        return kind == "numeric" or kind.startswith("numeric(")

    def exact_number_text(self, expression: str, kind: str) -> str:
        # Postgres prints a numeric in plain notation with its scale, as the builder does
        # (format(Decimal, "f")) for any number with at most 60 decimals
        return f"cast({expression} as text)"

    def exact_number_python_if(self, expression: str, kind: str) -> str | None:
        # NaN and infinities (NaN sorts above every number), beyond a double, or so many
        # decimals the builder may write an exponent
        return (
            f"{expression} is not null and "
            f"(abs({expression}) >= 1e300 or scale({expression}) > 60)"
        )

    def is_string(self, kind: str) -> bool:
        return kind in ("text", "character varying") or kind.startswith("character varying(")

    def is_boolean(self, kind: str) -> bool:
        return kind == "boolean"

    def is_double(self, kind: str) -> bool:
        return kind in ("double precision", "real")

    def double(self, expression: str) -> str:
        # a real's own shortest digits are what psycopg2 reads into a Python float
        return expression

    def double_text(self, expression: str) -> str:
        return f"regexp_replace(cast({expression} as text), '^(-?[0-9]+)$', '\\1.0')"

    def not_finite(self, expression: str) -> str:
        # exponents (1e+16, 1e-05: orjson writes 1e16, 0.00001), NaN, Infinity; and a session
        # whose extra_float_digits does not print the shortest round-trip digits
        return (
            f"{expression} is not null and (cast({expression} as text) ~ '[^0-9.-]' or "
            "cast(current_setting('extra_float_digits') as integer) < 1)"
        )

    def temporal(self, expression: str, kind: str) -> str | None:
        temporal = _pg_temporal_kind(kind)
        return None if temporal is None else pg_iso_utc(expression, temporal)

    def timestamp_python_if(self, text: str) -> str | None:
        # years beyond 9999 print 5 digits: the builder rejects them
        return f"{text} !~ '^[0-9]{{4}}-'"

    def id_text(self, column: str | None, kind: str, constant: object, field: str) -> str | None:
        if column is None:
            try:
                value = to_id(constant, "constant", field)
            except ValueProblem:
                return None
            return self.text_constant(value)
        if self.is_string(kind):
            return f"nullif({self.column(column)}, '')"
        if self.is_integer(kind) or kind == "uuid":
            # a uuid's text is what psycopg2 hands over (or str() of its UUID)
            return f"cast({self.column(column)} as text)"
        return None

    def printable_ascii(self, expression: str) -> str:
        return f"({expression} ~ '^[ -~]*$')"

    def ascii(self, expression: str) -> str:
        return f"octet_length({expression}) = char_length({expression})"

    def json_column(self, expression: str, kind: str, name: str) -> JsonColumn | None:
        """jsonb strings, booleans, null and plain integers print as the builder writes them
        (psycopg2 parses jsonb's text with orjson), and so does an object of only those,
        written from jsonb's own text without its spaces, in jsonb's key order (the order
        psycopg2's dict and orjson keep); any other jsonb value, and every json one (kept as
        written, spaces and all), go to the builder."""
        if kind == "json":
            return JsonColumn(f"cast({expression} as text)", f"{expression} is not null")
        if kind != "jsonb":
            return None
        text = f"cast({expression} as text)"
        simple = (
            f"jsonb_typeof({expression}) in ('string', 'boolean', 'null') or "
            f"{text} ~ '^(0|-?[1-9][0-9]{{0,17}})$'"
        )
        is_object = f"jsonb_typeof({expression}) = 'object'"
        # An object's members are leaves when those not strings, booleans or null are only
        # integers of at most 18 digits: their array's text holds nothing else (strict: no
        # array is unwrapped into its elements).
        others = (
            f'cast(jsonb_path_query_array({expression}, \'strict $.* ? (@.type() != "string" '
            '&& @.type() != "boolean" && @.type() != "null")\') as text)'
        )
        leaves = f"{others} !~ '[^-0-9, \\[\\]]|.\\[|[0-9]{{19}}'"
        # jsonb writes an object as `{"key": value, "key": value}`, and a string holds no bare
        # `"`: dropping the space of each `, "` and `": ` gives the builder's bytes, unless the
        # pattern took in a string's own quote (a string ending in `, `, or starting with `: `).
        # Such a text reads back as another object, so it is written here only where it reads
        # back as this one (checked on the named text: computed once per row). Two replaces, a
        # jsonb read and a path query took 0.7-0.9 s on 200,000 rows against 2.0-2.1 s for
        # splitting the members with jsonb_each and joining them again.
        compact = f"replace(replace({text}, ', \"', ',\"'), '\": ', '\":')"
        members = f"case when {leaves} then {compact} end"
        written = f"case when {is_object} then {members} else {text} end"
        named = f"p.{name}"
        reads_back = f"{named} is not null and cast({named} as jsonb) = {expression}"
        python_if = (
            f"{expression} is not null and not ({simple} or ({is_object} and {reads_back}))"
        )
        return JsonColumn(named, python_if, ((name, written),))

    def nested_leaf_ok(self, kind: str) -> bool:
        return kind in _PG_INTEGERS or kind == "boolean" or self.is_string(kind)

    def nested_python_if(self, expression: str, kind: str) -> str | None:
        # to_json of an array from index 1 in one dimension is the list psycopg2 reads
        return (
            f"{expression} is not null and (array_ndims({expression}) > 1 or "
            f"array_lower({expression}, 1) <> 1)"
        )


DIALECTS = {"duckdb": DuckDBDialect(), "postgres": PostgresDialect()}
