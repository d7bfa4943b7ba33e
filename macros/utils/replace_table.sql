{% macro replace_table(relation, sql) -%}
  {{ return(adapter.dispatch('replace_table', 'segment_profiles')(relation, sql)) }}
{%- endmacro %}

{% macro default__replace_table(relation, sql) -%}
  {% do run_query('drop table if exists ' ~ relation) %}
  {% do segment_profiles.create_table_from(relation, sql) %}
{%- endmacro %}

{% macro duckdb__replace_table(relation, sql) -%}
  {% do run_query('create or replace table ' ~ relation ~ ' as ' ~ sql) %}
{%- endmacro %}

{% macro spark__replace_table(relation, sql) -%}
  {#- a Delta or Iceberg table is replaced in one commit; Spark replaces no parquet table (v1 source) -#}
  {%- if segment_profiles.row_level_writes() -%}
    {% do run_query('create or replace table ' ~ relation ~ ' '
        ~ segment_profiles.bookkeeping_table_options() ~ ' as ' ~ sql) %}
  {%- else -%}
    {% do segment_profiles.default__replace_table(relation, sql) %}
  {%- endif -%}
{%- endmacro %}
