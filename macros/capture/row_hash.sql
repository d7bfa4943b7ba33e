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
