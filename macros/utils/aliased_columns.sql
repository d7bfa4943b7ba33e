{% macro aliased_columns(columns, actual) -%}
  {#- a select list reading each mapped column under the name the mapping spells it -#}
  {%- set parts = [] -%}
  {%- for column in columns -%}
    {%- do parts.append(adapter.quote(actual[column]) ~ ' as ' ~ adapter.quote(column)) -%}
  {%- endfor -%}
  {{ return(parts | join(', ')) }}
{%- endmacro %}
