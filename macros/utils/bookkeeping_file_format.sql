{% macro bookkeeping_file_format() -%}
  {{ return(adapter.dispatch('bookkeeping_file_format', 'segment_profiles')()) }}
{%- endmacro %}

{% macro default__bookkeeping_file_format() -%}
  {#- warehouses with one kind of table: nothing to choose -#}
  {{ return(none) }}
{%- endmacro %}

{% macro spark__bookkeeping_file_format() -%}
  {#-
    vars.segment_profiles.file_format (parquet by default: it needs no extra jars). delta, iceberg
    and hudi tables take DELETE, UPDATE and MERGE; parquet tables only appends and overwrites, so
    the state writes there rewrite whole tables (rewrite_table)
  -#}
  {%- set settings = var('segment_profiles', {}) or {} -%}
  {{ return((settings.get('file_format') or 'parquet') | lower) }}
{%- endmacro %}

{% macro databricks__bookkeeping_file_format() -%}
  {#- Databricks tables are Delta unless told otherwise -#}
  {%- set settings = var('segment_profiles', {}) or {} -%}
  {{ return((settings.get('file_format') or 'delta') | lower) }}
{%- endmacro %}
