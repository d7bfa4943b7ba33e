{% macro create_table_from(relation, sql) -%}
  {{ return(adapter.dispatch('create_table_from', 'segment_profiles')(relation, sql)) }}
{%- endmacro %}

{% macro default__create_table_from(relation, sql) -%}
  {#- a bookkeeping table (not dbt's create_table_as: in a post-hook it applies the hooked model's config) -#}
  {% do run_query('create table ' ~ relation ~ ' ' ~ segment_profiles.bookkeeping_table_options()
      ~ ' as ' ~ sql) %}
{%- endmacro %}
