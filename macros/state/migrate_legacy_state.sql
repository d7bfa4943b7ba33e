{% macro migrate_legacy_state(mapping_name) -%}
  {{ return(adapter.dispatch('migrate_legacy_state', 'segment_profiles')(mapping_name)) }}
{%- endmacro %}

{% macro default__migrate_legacy_state(mapping_name) -%}
  {#-
    a state from before change versions (record_key of the model's type, no change_version) is
    rewritten once in the new layout: the same keys and hashes, at version 0.
    returns true when it migrated.
  -#}
  {%- set state = segment_profiles.bookkeeping_relation(mapping_name, 'state') -%}
  {%- set found = adapter.get_relation(database=state.database, schema=state.schema, identifier=state.identifier) -%}
  {%- if found is none -%}{{ return(false) }}{%- endif -%}
  {%- set names = adapter.get_columns_in_relation(found) | map(attribute='name') | map('lower') | list -%}
  {%- if 'change_version' in names -%}{{ return(false) }}{%- endif -%}
  {%- set legacy = segment_profiles.bookkeeping_relation(mapping_name, 'state_legacy') -%}
  {% do run_query('drop table if exists ' ~ legacy) %}
  {% do segment_profiles.create_table_from(legacy, 'select * from ' ~ state) %}
  {% do run_query('drop table ' ~ state) %}
  {% do segment_profiles.ensure_state(mapping_name) %}
  {% do run_query('insert into ' ~ state ~ ' (record_key, row_hash, change_version, synced_at) select cast(record_key as '
      ~ segment_profiles.text_type() ~ '), row_hash, 0, synced_at from ' ~ legacy) %}
  {% do run_query('drop table ' ~ legacy) %}
  {{ return(true) }}
{%- endmacro %}
