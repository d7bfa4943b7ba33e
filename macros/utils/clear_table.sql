{% macro clear_table(relation) -%}
  {{ return(adapter.dispatch('clear_table', 'segment_profiles')(relation)) }}
{%- endmacro %}

{% macro default__clear_table(relation) -%}
  {#- delete, not truncate: truncate commits the open transaction on Redshift and is not MVCC-safe on Postgres -#}
  {% do run_query('delete from ' ~ relation) %}
{%- endmacro %}

{% macro spark__clear_table(relation) -%}
  {#- parquet tables take no DELETE; truncate empties them (a catalog operation, all or nothing) -#}
  {%- if segment_profiles.row_level_writes() -%}
    {% do run_query('delete from ' ~ relation) %}
  {%- else -%}
    {% do run_query('truncate table ' ~ relation) %}
  {%- endif -%}
{%- endmacro %}
