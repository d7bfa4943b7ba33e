{% macro row_hash(columns, types=none) -%}
  {{ return(adapter.dispatch('row_hash', 'segment_profiles')(columns, types)) }}
{%- endmacro %}

{% macro default__row_hash(columns, types=none) -%}
  {#
    NULL-safe and unambiguous: each value is tagged ('n' for NULL, 'v' plus its length for a
    value), so NULL differs from '', and ('a|b', 'c') differs from ('a', 'b|c').
    with `types` (column -> data type) each value is read as session-independent text; without,
    as the session's text: the hash of states captured before hash version 2.
    dbt's cross-database hash, concat and length: the same text and so the same md5 (as lower-case
    hex) on every warehouse, byte for byte what hash version 2 has always stored. The case, not a
    coalesce over the concatenation: concat() skips NULLs on some warehouses and not on others.
  #}
  {%- set text_type = dbt.type_string() -%}
  {%- set parts = [] -%}
  {%- for column in columns -%}
    {%- set text = segment_profiles.row_hash_text(column, types) -%}
    {%- if not loop.first -%}{%- do parts.append("'|'") -%}{%- endif -%}
    {%- do parts.append('case when ' ~ adapter.quote(column) ~ " is null then 'n' else "
        ~ dbt.concat(["'v'", 'cast(' ~ (dbt.length(text) | trim) ~ ' as ' ~ text_type ~ ')', "':'", text])
        ~ ' end') -%}
  {%- endfor -%}
  {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}

{% macro duckdb__row_hash(columns, types=none) -%}
  {#-
    the same text and the same md5 as default__row_hash, built by one concat() (NULL-safe by
    the case, as concat skips NULLs): in DuckDB a chain of || (dbt.concat here) copies the
    growing string once per operator, which costs more than the md5.
  -#}
  {%- set parts = [] -%}
  {%- for column in columns -%}
    {%- set text = segment_profiles.row_hash_text(column, types) -%}
    {%- do parts.append('case when ' ~ adapter.quote(column) ~ " is null then 'n' else concat('v', length(" ~ text ~ "), ':', " ~ text ~ ') end') -%}
  {%- endfor -%}
  md5(concat({{ parts | join(", '|', ") }}))
{%- endmacro %}
