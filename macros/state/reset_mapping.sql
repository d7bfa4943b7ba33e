{% macro reset_mapping(mapping_name, rebaseline=false) -%}
  {{ return(adapter.dispatch('reset_mapping', 'segment_profiles')(mapping_name, rebaseline)) }}
{%- endmacro %}

{% macro default__reset_mapping(mapping_name, rebaseline=false) -%}
  {#-
    `dbt-segment reset` runs this: every key is forgotten as acknowledged (each row is sent again
    as added, under a new change version, so Segment does not drop it as a duplicate) or, with
    rebaseline, the current rows are taken as synced (nothing is sent). The relation and key type
    on record are replaced by the model's, and the changes are captured anew, so no `dbt run` is
    needed in between.
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
    {%- do available.update({column.name | lower: column}) -%}
  {%- endfor -%}
  {%- if primary_key | lower not in available -%}
    {{ exceptions.raise_compiler_error('segment_profiles: model ' ~ item.node.name ~ ': primary key column ' ~ primary_key ~ ' is not in the model') }}
  {%- endif -%}
  {% do adapter.create_schema(api.Relation.create(database=target.get('database'), schema=segment_profiles.bookkeeping_schema())) %}
  {% do segment_profiles.ensure_history() %}
  {% do segment_profiles.acquire_mapping_lock(mapping_name) %}
  {% do segment_profiles.migrate_legacy_state(mapping_name) %}
  {% do segment_profiles.ensure_state(mapping_name) %}
  {% do segment_profiles.forget_acknowledged(mapping_name) %}
  {% do segment_profiles.capture_mapping(relation, item.node.name, primary_key, item.mapping, available) %}
  {%- if rebaseline -%}
    {% do segment_profiles.rebaseline_state(mapping_name) %}
  {%- endif -%}
  {% do adapter.commit() %}
{%- endmacro %}
