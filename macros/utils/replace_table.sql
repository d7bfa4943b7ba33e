{% macro replace_table(relation, sql) -%}
  {{ return(adapter.dispatch('replace_table', 'segment_profiles')(relation, sql)) }}
{%- endmacro %}

{% macro default__replace_table(relation, sql) -%}
  {% do run_query('drop table if exists ' ~ relation) %}
  {% do run_query('create table ' ~ relation ~ ' as ' ~ sql) %}
{%- endmacro %}

{% macro duckdb__replace_table(relation, sql) -%}
  {% do run_query('create or replace table ' ~ relation ~ ' as ' ~ sql) %}
{%- endmacro %}
