{% macro row_level_writes() -%}
  {{ return(adapter.dispatch('row_level_writes', 'segment_profiles')()) }}
{%- endmacro %}

{% macro default__row_level_writes() -%}
  {#- whether the bookkeeping tables take DELETE, UPDATE and MERGE: SQL warehouses do -#}
  {{ return(true) }}
{%- endmacro %}

{% macro spark__row_level_writes() -%}
  {#- a table format with a transaction log does; plain files (parquet, orc...) do not -#}
  {{ return(segment_profiles.bookkeeping_file_format() in ('delta', 'iceberg', 'hudi')) }}
{%- endmacro %}
