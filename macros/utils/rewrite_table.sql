{% macro rewrite_table(relation, sql) -%}
  {{ return(adapter.dispatch('rewrite_table', 'segment_profiles')(relation, sql)) }}
{%- endmacro %}

{% macro default__rewrite_table(relation, sql) -%}
  {#-
    the table's rows become what `sql` selects, which may read the table itself: for tables that
    take no DELETE or UPDATE. The columns of `sql` are matched to the table's by name. Here, in the
    model's transaction: a staging copy, then delete and insert.
  -#}
  {%- set staging = segment_profiles.rewrite_staging_relation(relation) -%}
  {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | join(', ') -%}
  {% do run_query('drop table if exists ' ~ staging) %}
  {% do segment_profiles.create_table_from(staging, sql) %}
  {% do run_query('delete from ' ~ relation) %}
  {% do run_query('insert into ' ~ relation ~ ' select ' ~ columns ~ ' from ' ~ staging) %}
  {% do run_query('drop table ' ~ staging) %}
{%- endmacro %}

{% macro spark__rewrite_table(relation, sql) -%}
  {#-
    Spark refuses to overwrite a table a query of the same statement reads, and has no
    transactions: the new rows are written to a staging table first (its catalog entry appears
    only once its files are complete), then copied over the table, then the staging table is
    dropped. A kill before the copy leaves the table as it was; a kill during the copy (which
    deletes the old files first) leaves the staging table, and finish_interrupted_rewrite, run
    before anything reads the table again, completes the copy from it.
  -#}
  {%- if segment_profiles.row_level_writes() -%}
    {#- Delta and Iceberg read a snapshot: one overwrite, one commit -#}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | join(', ') -%}
    {% do run_query('insert overwrite table ' ~ relation ~ ' select ' ~ columns ~ ' from (' ~ sql ~ ') as __sp_rows') %}
    {{ return(none) }}
  {%- endif -%}
  {%- set staging = segment_profiles.rewrite_staging_relation(relation) -%}
  {% do segment_profiles.finish_interrupted_rewrite(relation) %}
  {% do segment_profiles.create_table_from(staging, sql) %}
  {% do segment_profiles.finish_interrupted_rewrite(relation) %}
{%- endmacro %}
