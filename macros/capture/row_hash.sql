{% macro row_hash(columns) -%}
  {{ return(adapter.dispatch('row_hash', 'segment_profiles')(columns)) }}
{%- endmacro %}

{% macro default__row_hash(columns) -%}
  {#
    NULL-safe and unambiguous: each value is tagged ('n' for NULL, 'v' plus its length for a
    value), so NULL differs from '', and ('a|b', 'c') differs from ('a', 'b|c').
  #}
  {%- set parts = [] -%}
  {%- for column in columns -%}
    {%- set text = 'cast(' ~ adapter.quote(column) ~ ' as ' ~ dbt.type_string() ~ ')' -%}
    {%- do parts.append("coalesce('v' || cast(length(" ~ text ~ ") as " ~ dbt.type_string() ~ ") || ':' || " ~ text ~ ", 'n')") -%}
  {%- endfor -%}
  md5({{ parts | join(" || '|' || ") }})
{%- endmacro %}

{% macro duckdb__row_hash(columns) -%}
  {#-
    the same text and the same md5 as default__row_hash, built by one concat() (NULL-safe by
    the case, as concat skips NULLs): in DuckDB a chain of || copies the growing string once
    per operator, which costs more than the md5.
  -#}
  {%- set parts = [] -%}
  {%- for column in columns -%}
    {%- set text = 'cast(' ~ adapter.quote(column) ~ ' as ' ~ dbt.type_string() ~ ')' -%}
    {%- do parts.append('case when ' ~ adapter.quote(column) ~ " is null then 'n' else concat('v', length(" ~ text ~ "), ':', " ~ text ~ ') end') -%}
  {%- endfor -%}
  md5(concat({{ parts | join(", '|', ") }}))
{%- endmacro %}
