{% macro replace_rows(relation, sql) -%}
  {{ return(adapter.dispatch('replace_rows', 'segment_profiles')(relation, sql)) }}
{%- endmacro %}

{% macro default__replace_rows(relation, sql) -%}
  {#-
    the table's rows become what `sql` selects (in the table's column order; it must not read the
    table itself: see rewrite_table). Delete and insert, not a new table: package views select
    from it.
  -#}
  {% do segment_profiles.clear_table(relation) %}
  {% do run_query('insert into ' ~ relation ~ ' ' ~ sql) %}
{%- endmacro %}

{% macro spark__replace_rows(relation, sql) -%}
  {#- one statement, whatever the file format -#}
  {% do run_query('insert overwrite table ' ~ relation ~ ' ' ~ sql) %}
{%- endmacro %}
