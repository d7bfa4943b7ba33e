{% macro ensure_invalid_keys(relation) -%}
  {{ return(adapter.dispatch('ensure_invalid_keys', 'segment_profiles')(relation)) }}
{%- endmacro %}

{% macro default__ensure_invalid_keys(relation) -%}
  {% do run_query('create table if not exists ' ~ relation ~ ' (record_key ' ~ segment_profiles.text_type()
      ~ ', reason ' ~ segment_profiles.text_type() ~ ', row_count ' ~ dbt.type_bigint()
      ~ ', captured_at ' ~ dbt.type_timestamp() ~ ') '
      ~ segment_profiles.bookkeeping_table_options()) %}
{%- endmacro %}
