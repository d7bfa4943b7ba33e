{% macro rebaseline_state(mapping_name) -%}
  {{ return(adapter.dispatch('rebaseline_state', 'segment_profiles')(mapping_name)) }}
{%- endmacro %}

{% macro default__rebaseline_state(mapping_name) -%}
  {#-
    `dbt-segment reset --rebaseline`: right after a capture from a forgotten state, the pending
    rows are the model's current rows (all added): they become the state, as if acknowledged,
    and nothing is left to send.
  -#}
  {%- set state = segment_profiles.bookkeeping_relation(mapping_name, 'state') -%}
  {%- set pending = segment_profiles.bookkeeping_relation(mapping_name, 'pending') -%}
  {% do run_query('delete from ' ~ state ~ ' where record_key in (select __sp_key from ' ~ pending ~ ')') %}
  {% do run_query('insert into ' ~ state ~ ' (record_key, row_hash, change_version, synced_at) select '
      ~ "__sp_key, __sp_hash, __sp_version, " ~ dbt.current_timestamp() ~ ' from '
      ~ pending ~ " where __sp_op = 'added'") %}
  {% do segment_profiles.clear_table(pending) %}
  {% do run_query('update ' ~ segment_profiles.bookkeeping_relation_named('segment_captures')
      ~ " set pending_added = 0, pending_updated = 0, pending_deleted = 0 where mapping_name = '" ~ mapping_name ~ "'") %}
{%- endmacro %}

{% macro spark__rebaseline_state(mapping_name) -%}
  {#- parquet: the state and segment_captures rewritten whole, then the pending emptied -#}
  {%- if segment_profiles.row_level_writes() -%}
    {{ return(segment_profiles.databricks__rebaseline_state(mapping_name)) }}
  {%- endif -%}
  {%- set state = segment_profiles.bookkeeping_relation(mapping_name, 'state') -%}
  {%- set pending = segment_profiles.bookkeeping_relation(mapping_name, 'pending') -%}
  {%- set captures = segment_profiles.bookkeeping_relation_named('segment_captures') -%}
  {% do segment_profiles.rewrite_table(state,
      'select s.record_key, s.row_hash, s.change_version, s.synced_at from ' ~ state ~ ' as s'
      ~ ' where not exists (select 1 from ' ~ pending ~ ' as p where p.__sp_key = s.record_key)'
      ~ ' union all select __sp_key as record_key, __sp_hash as row_hash, __sp_version as change_version, '
      ~ dbt.current_timestamp() ~ ' as synced_at from ' ~ pending ~ " where __sp_op = 'added'") %}
  {% do segment_profiles.rewrite_table(captures, 'select mapping_name, relation_name, key_column, key_type,'
      ~ ' hash_version, captured_at, case when mapping_name = ' ~ "'" ~ mapping_name ~ "'"
      ~ ' then 0 else pending_added end as pending_added, case when mapping_name = ' ~ "'" ~ mapping_name ~ "'"
      ~ ' then 0 else pending_updated end as pending_updated, case when mapping_name = ' ~ "'" ~ mapping_name ~ "'"
      ~ ' then 0 else pending_deleted end as pending_deleted, state_rows, deleting, blocked_reason,'
      ~ ' allow_mass_delete, invocation_id, attempted from ' ~ captures) %}
  {% do segment_profiles.clear_table(pending) %}
{%- endmacro %}

{% macro databricks__rebaseline_state(mapping_name) -%}
  {#- Delta and Iceberg: MERGE the pending rows into the state (a pending table has one row per key) -#}
  {%- set state = segment_profiles.bookkeeping_relation(mapping_name, 'state') -%}
  {%- set pending = segment_profiles.bookkeeping_relation(mapping_name, 'pending') -%}
  {% do run_query('merge into ' ~ state ~ ' as s using ' ~ pending ~ ' as p on s.record_key = p.__sp_key'
      ~ " when matched and p.__sp_op = 'added' then update set row_hash = p.__sp_hash,"
      ~ ' change_version = p.__sp_version, synced_at = ' ~ dbt.current_timestamp()
      ~ ' when matched then delete'
      ~ " when not matched and p.__sp_op = 'added' then insert (record_key, row_hash, change_version, synced_at)"
      ~ ' values (p.__sp_key, p.__sp_hash, p.__sp_version, ' ~ dbt.current_timestamp() ~ ')') %}
  {% do segment_profiles.clear_table(pending) %}
  {% do run_query('update ' ~ segment_profiles.bookkeeping_relation_named('segment_captures')
      ~ " set pending_added = 0, pending_updated = 0, pending_deleted = 0 where mapping_name = '" ~ mapping_name ~ "'") %}
{%- endmacro %}
