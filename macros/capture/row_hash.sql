{% macro row_hash(columns, types=none) -%}
  {{ return(adapter.dispatch('row_hash', 'segment_profiles')(columns, types)) }}
{%- endmacro %}

{% macro default__row_hash(columns, types=none) -%}
  {#
    NULL-safe and unambiguous: each value is tagged ('n' for NULL, 'v' plus its length for a
    value), so NULL differs from '', and ('a|b', 'c') differs from ('a', 'b|c').
    with `types` (column -> data type) each value is read as session-independent text; without,
    as the session's text: the hash of states captured before hash version 2.
    dbt's cross-database hash (md5 as lower-case hex everywhere) over row_hash_input: byte for
    byte what hash version 2 has always stored.
  #}
  {{ dbt.hash(segment_profiles.row_hash_input(columns, types)) }}
{%- endmacro %}

{% macro redshift__row_hash(columns, types=none) -%}
  {#- md5 of the text as it is: dbt.hash casts it to text, which Redshift cuts at 256 characters -#}
  md5({{ segment_profiles.row_hash_input(columns, types) }})
{%- endmacro %}

{% macro duckdb__row_hash(columns, types=none) -%}
  {#-
    the same text and the same md5 as default__row_hash, built by one flat concat() per row: per
    column 'n' or 'v', the length, ':' and the text, each piece NULL for a NULL value except the
    tag (concat skips NULLs), so the text is default__'s byte for byte. In DuckDB a chain of ||
    (dbt.concat here) copies the growing string once per operator, and a nested concat() per
    column builds one intermediate string per value: either costs more than the md5.
  -#}
  {%- set parts = [] -%}
  {%- for column in columns -%}
    {%- set quoted = adapter.quote(column) -%}
    {%- set text = segment_profiles.row_hash_text(column, types) -%}
    {%- do parts.append('case when ' ~ quoted ~ " is null then 'n' else 'v' end, length(" ~ text
        ~ '), case when ' ~ quoted ~ " is not null then ':' end, " ~ text) -%}
  {%- endfor -%}
  md5(concat({{ parts | join(", '|', ") }}))
{%- endmacro %}
