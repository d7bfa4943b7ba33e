{% macro rehash_state(mapping_name, relation, primary_key, columns, actual, types) -%}
  {{ return(adapter.dispatch('rehash_state', 'segment_profiles')(mapping_name, relation, primary_key, columns, actual, types)) }}
{%- endmacro %}

{% macro default__rehash_state(mapping_name, relation, primary_key, columns, actual, types) -%}
  {#-
    hash version 1 read zoned timestamps in the session's time zone. Once, a key whose row still
    hashes, in this session, to what the state holds is unchanged: its state takes the
    session-independent hash, so upgrading resends nothing that did not change.
  -#}
  {%- set state = segment_profiles.bookkeeping_relation(mapping_name, 'state') -%}
  {% do run_query('update ' ~ state ~ ' set row_hash = m.__sp_new from (select cast('
      ~ adapter.quote(primary_key) ~ ' as ' ~ dbt.type_string() ~ ') as __sp_key, '
      ~ segment_profiles.row_hash(columns) ~ ' as __sp_old, '
      ~ segment_profiles.row_hash(columns, types) ~ ' as __sp_new from (select '
      ~ segment_profiles.aliased_columns(columns, actual) ~ ' from ' ~ relation ~ ') as s) as m where '
      ~ adapter.quote(state.identifier) ~ '.record_key = m.__sp_key and '
      ~ adapter.quote(state.identifier) ~ '.row_hash = m.__sp_old') %}
{%- endmacro %}
