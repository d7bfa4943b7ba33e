{% macro record_capture(mapping_name, values) -%}
  {{ return(adapter.dispatch('record_capture', 'segment_profiles')(mapping_name, values)) }}
{%- endmacro %}

{% macro default__record_capture(mapping_name, values) -%}
  {#- the mapping's row in segment_captures, replaced: what the runner checks before sending -#}
  {%- set table = segment_profiles.bookkeeping_relation_named('segment_captures') -%}
  {% do run_query('delete from ' ~ table ~ " where mapping_name = '" ~ mapping_name ~ "'") %}
  {% do run_query('insert into ' ~ table ~ ' (' ~ segment_profiles.capture_row_sql(mapping_name, values, 'columns')
      ~ ') select ' ~ segment_profiles.capture_row_sql(mapping_name, values, 'values')) %}
{%- endmacro %}

{% macro spark__record_capture(mapping_name, values) -%}
  {#- parquet: segment_captures rewritten whole, this mapping's row replaced -#}
  {%- if segment_profiles.row_level_writes() -%}
    {{ return(segment_profiles.default__record_capture(mapping_name, values)) }}
  {%- endif -%}
  {%- set table = segment_profiles.bookkeeping_relation_named('segment_captures') -%}
  {% do segment_profiles.rewrite_table(table, 'select ' ~ segment_profiles.capture_row_sql(mapping_name, values, 'columns')
      ~ ' from ' ~ table ~ " where mapping_name <> '" ~ mapping_name ~ "' union all select "
      ~ segment_profiles.capture_row_sql(mapping_name, values, 'aliased')) %}
{%- endmacro %}
