{% macro rehash_state(mapping_name, relation, primary_key, columns, actual, types) -%}
  {{ return(adapter.dispatch('rehash_state', 'segment_profiles')(mapping_name, relation, primary_key, columns, actual, types)) }}
{%- endmacro %}

{% macro default__rehash_state(mapping_name, relation, primary_key, columns, actual, types) -%}
  {#-
    hash version 1 read zoned timestamps in the session's time zone. Once, a key whose row still
    hashes, in this session, to what the state holds is unchanged: its state takes the
    session-independent hash, so upgrading resends nothing that did not change.
    the state is named unquoted in the condition, as in fold_acknowledgements.
  -#}
  {%- set state = segment_profiles.bookkeeping_relation(mapping_name, 'state') -%}
  {% do run_query('update ' ~ state ~ ' set row_hash = m.__sp_new from ('
      ~ segment_profiles.rehashed_keys_sql(relation, primary_key, columns, actual, types) ~ ') as m where '
      ~ state.identifier ~ '.record_key = m.__sp_key and ' ~ state.identifier ~ '.row_hash = m.__sp_old') %}
{%- endmacro %}

{% macro spark__rehash_state(mapping_name, relation, primary_key, columns, actual, types) -%}
  {#- parquet: the state rewritten whole; a key's row at most once (the new hashes grouped per old one) -#}
  {%- if segment_profiles.row_level_writes() -%}
    {{ return(segment_profiles.databricks__rehash_state(mapping_name, relation, primary_key, columns, actual, types)) }}
  {%- endif -%}
  {%- set state = segment_profiles.bookkeeping_relation(mapping_name, 'state') -%}
  {% do segment_profiles.rewrite_table(state,
      'select s.record_key, coalesce(m.__sp_new, s.row_hash) as row_hash, s.change_version, s.synced_at from '
      ~ state ~ ' as s left join (select __sp_key, __sp_old, max(__sp_new) as __sp_new from ('
      ~ segment_profiles.rehashed_keys_sql(relation, primary_key, columns, actual, types)
      ~ ') as r group by __sp_key, __sp_old) as m on s.record_key = m.__sp_key and s.row_hash = m.__sp_old') %}
{%- endmacro %}

{% macro databricks__rehash_state(mapping_name, relation, primary_key, columns, actual, types) -%}
  {#- Delta and Iceberg: MERGE, with one source row per key and old hash (MERGE allows no more) -#}
  {%- set state = segment_profiles.bookkeeping_relation(mapping_name, 'state') -%}
  {% do run_query('merge into ' ~ state ~ ' as s using (select __sp_key, __sp_old, max(__sp_new) as __sp_new from ('
      ~ segment_profiles.rehashed_keys_sql(relation, primary_key, columns, actual, types)
      ~ ') as r group by __sp_key, __sp_old) as m on s.record_key = m.__sp_key and s.row_hash = m.__sp_old'
      ~ ' when matched then update set row_hash = m.__sp_new') %}
{%- endmacro %}
