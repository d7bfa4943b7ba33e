{% macro reset_mapping(mapping_name, rebaseline=false) -%}
  {{ return(adapter.dispatch('reset_mapping', 'segment_profiles')(mapping_name, rebaseline)) }}
{%- endmacro %}

{% macro default__reset_mapping(mapping_name, rebaseline=false) -%}
  {#-
    `dbt-segment reset` runs this: the state is emptied (every row is sent again as added) or,
    with rebaseline, replaced by the current rows (nothing is sent); the pending changes are
    captured anew either way, so no `dbt run` is needed in between.
  -#}
  {%- set matches = segment_profiles.segment_mappings() | selectattr('mapping.name', 'equalto', mapping_name) | list -%}
  {%- if not matches -%}
    {{ exceptions.raise_compiler_error('segment_profiles: no mapping named ' ~ mapping_name) }}
  {%- endif -%}
  {%- set item = matches[0] -%}
  {%- set relation = adapter.get_relation(database=item.node.database, schema=item.node.schema, identifier=item.node.alias or item.node.name) -%}
  {%- if relation is none -%}
    {{ exceptions.raise_compiler_error('segment_profiles: model ' ~ item.node.name ~ ' has not been built: run `dbt run` first') }}
  {%- endif -%}
  {%- set primary_key = item.segment.primary_key -%}
  {%- set available = {} -%}
  {%- for column in adapter.get_columns_in_relation(relation) -%}
    {%- do available.update({column.name | lower: column.name}) -%}
  {%- endfor -%}
  {%- if primary_key | lower not in available -%}
    {{ exceptions.raise_compiler_error('segment_profiles: model ' ~ item.node.name ~ ': primary key column ' ~ primary_key ~ ' is not in the model') }}
  {%- endif -%}
  {%- set state = segment_profiles.bookkeeping_relation(mapping_name, 'state') -%}
  {% do segment_profiles.ensure_state(state, relation, available[primary_key | lower]) %}
  {% do run_query('delete from ' ~ state) %}
  {#- with an empty state every usable row is captured as added -#}
  {% do segment_profiles.capture_mapping(relation, item.node.name, primary_key, item.mapping, available) %}
  {%- if rebaseline -%}
    {%- set pending = segment_profiles.bookkeeping_relation(mapping_name, 'pending') -%}
    {% do run_query('insert into ' ~ state ~ ' (record_key, row_hash, synced_at) select '
        ~ adapter.quote(primary_key) ~ ', __sp_hash, ' ~ dbt.current_timestamp() ~ ' from '
        ~ pending ~ " where __sp_op = 'added'") %}
    {% do run_query('delete from ' ~ pending) %}
  {%- endif -%}
  {% do adapter.commit() %}
{%- endmacro %}
