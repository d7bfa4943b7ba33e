{% macro bookkeeping_table_options() -%}
  {{ return(adapter.dispatch('bookkeeping_table_options', 'segment_profiles')()) }}
{%- endmacro %}

{% macro default__bookkeeping_table_options() -%}
  {{ return('') }}
{%- endmacro %}

{% macro spark__bookkeeping_table_options() -%}
  {#- without `using`, Spark 3 creates a Hive text table (spark.sql.legacy.createHiveTableByDefault) -#}
  {{ return('using ' ~ segment_profiles.bookkeeping_file_format()) }}
{%- endmacro %}
