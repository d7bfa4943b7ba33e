{% macro scratch_table(mapping_name, role, sql) -%}
  {{ return(adapter.dispatch('scratch_table', 'segment_profiles')(mapping_name, role, sql)) }}
{%- endmacro %}

{% macro default__scratch_table(mapping_name, role, sql) -%}
  {#-
    a capture's working table (its changes, its unusable keys), materialized once because it is
    read several times while the state it was computed from is rewritten. Returns the relation;
    the capture drops it with adapter.drop_relation.
    dbt's own temporary relation, the adapter's way.
  -#}
  {%- set relation = make_temp_relation(segment_profiles.bookkeeping_relation(mapping_name, role), '__sp_scratch') -%}
  {% do run_query(create_table_as(true, relation, sql)) %}
  {{ return(relation) }}
{%- endmacro %}

{% macro duckdb__scratch_table(mapping_name, role, sql) -%}
  {#-
    not dbt's create_table_as: in a post-hook it reads the hooked model's config, and checks a
    model's enforced contract against this query's columns
  -#}
  {%- set relation = make_temp_relation(segment_profiles.bookkeeping_relation(mapping_name, role), '__sp_scratch') -%}
  {% do run_query('create temporary table ' ~ relation.include(database=false, schema=false) ~ ' as ' ~ sql) %}
  {{ return(relation) }}
{%- endmacro %}

{% macro postgres__scratch_table(mapping_name, role, sql) -%}
  {#- as on DuckDB: postgres__create_table_as checks the hooked model's contract even for temporary tables -#}
  {%- set relation = make_temp_relation(segment_profiles.bookkeeping_relation(mapping_name, role), '__sp_scratch') -%}
  {% do run_query('create temporary table ' ~ relation.include(database=false, schema=false) ~ ' as ' ~ sql) %}
  {{ return(relation) }}
{%- endmacro %}

{% macro snowflake__scratch_table(mapping_name, role, sql) -%}
  {#- as on DuckDB: snowflake__create_table_as checks the hooked model's contract even for temporary tables -#}
  {%- set relation = make_temp_relation(segment_profiles.bookkeeping_relation(mapping_name, role), '__sp_scratch') -%}
  {% do run_query('create or replace temporary table ' ~ relation ~ ' as (' ~ sql ~ ')') %}
  {{ return(relation) }}
{%- endmacro %}

{% macro bigquery__scratch_table(mapping_name, role, sql) -%}
  {#-
    BigQuery has temporary tables only inside multi-statement scripts: a table in the bookkeeping
    dataset that expires by itself if the capture dies before dropping it. Not dbt's
    create_table_as, which would apply the hooked model's partition_by, cluster_by and contract.
  -#}
  {%- set relation = make_temp_relation(segment_profiles.bookkeeping_relation(mapping_name, role), '__sp_scratch') -%}
  {% do run_query('create or replace table ' ~ relation
      ~ ' options (expiration_timestamp = timestamp_add(current_timestamp(), interval 12 hour)) as ('
      ~ sql ~ ')') %}
  {{ return(relation) }}
{%- endmacro %}

{% macro spark__scratch_table(mapping_name, role, sql) -%}
  {#-
    a table, not dbt's temporary view: a view is evaluated anew at each read, so after the state is
    rewritten the changes would be computed again against the new state. In the bookkeeping
    schema, replaced by the next capture if one dies before dropping it.
  -#}
  {%- set relation = segment_profiles.bookkeeping_relation(mapping_name, role ~ '__sp_scratch') -%}
  {% do run_query('drop table if exists ' ~ relation) %}
  {% do segment_profiles.create_table_from(relation, sql) %}
  {{ return(relation) }}
{%- endmacro %}
