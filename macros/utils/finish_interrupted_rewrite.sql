{% macro finish_interrupted_rewrite(relation) -%}
  {{ return(adapter.dispatch('finish_interrupted_rewrite', 'segment_profiles')(relation)) }}
{%- endmacro %}

{% macro default__finish_interrupted_rewrite(relation) -%}
  {#- rewrite_table runs in a transaction here: a kill rolls it back, nothing to finish -#}
  {{ return(none) }}
{%- endmacro %}

{% macro spark__finish_interrupted_rewrite(relation) -%}
  {#-
    a staging table that exists is complete (Spark registers a table created from a query after
    writing its files): its rows are what the table must hold, whether or not the copy over the
    table had begun. Copying it again is harmless, so a rewrite is finished, never half-done.
    Looked up with SHOW TABLES, not adapter.get_relation: dbt's relation cache does not see
    tables created by run_query. Delta and Iceberg tables are never rewritten so: nothing to do.
  -#}
  {%- if segment_profiles.row_level_writes() -%}{{ return(none) }}{%- endif -%}
  {%- set staging = segment_profiles.rewrite_staging_relation(relation) -%}
  {%- set found = run_query('show tables in ' ~ staging.schema ~ " like '" ~ staging.identifier ~ "'") -%}
  {%- if found.rows | length > 0 -%}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | join(', ') -%}
    {% do run_query('insert overwrite table ' ~ relation ~ ' select ' ~ columns ~ ' from ' ~ staging) %}
    {% do run_query('drop table ' ~ staging) %}
  {%- endif -%}
{%- endmacro %}
