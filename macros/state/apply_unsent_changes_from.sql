{% macro apply_unsent_changes_from(mapping_name, changes, send) -%}
  {{ return(adapter.dispatch('apply_unsent_changes_from', 'segment_profiles')(mapping_name, changes, send)) }}
{%- endmacro %}

{% macro default__apply_unsent_changes_from(mapping_name, changes, send) -%}
  {#-
    changes the mapping does not send are taken into the state at once, so they do not come back
    as pending on every run (as Segment's own Reverse ETL keeps one checksum per record); an
    unsent delete leaves the key's version behind, so a re-added key gets a new messageId.
  -#}
  {%- set state = segment_profiles.bookkeeping_relation(mapping_name, 'state') -%}
  {%- set attempts = segment_profiles.bookkeeping_relation(mapping_name, 'attempts') -%}
  {%- set unsent = segment_profiles.unsent_operations(send) -%}
  {%- if unsent -%}
    {%- set keys = 'select __sp_key from ' ~ changes ~ ' where __sp_op in (' ~ unsent ~ ')' -%}
    {% do run_query('delete from ' ~ state ~ ' where record_key in (' ~ keys ~ ')') %}
    {% do run_query('delete from ' ~ attempts ~ ' where record_key in (' ~ keys ~ ')') %}
    {% do run_query('insert into ' ~ state ~ ' (record_key, row_hash, change_version, synced_at)'
        ~ " select __sp_key, case when __sp_op = 'deleted' then null else __sp_hash end,"
        ~ ' __sp_version, ' ~ dbt.current_timestamp() ~ ' from ' ~ changes
        ~ ' where __sp_op in (' ~ unsent ~ ')') %}
  {%- endif -%}
{%- endmacro %}

{% macro spark__apply_unsent_changes_from(mapping_name, changes, send) -%}
  {#- parquet: the state and the attempts rewritten whole (a kill between leaves doubts, resent) -#}
  {%- if segment_profiles.row_level_writes() -%}
    {{ return(segment_profiles.databricks__apply_unsent_changes_from(mapping_name, changes, send)) }}
  {%- endif -%}
  {%- set state = segment_profiles.bookkeeping_relation(mapping_name, 'state') -%}
  {%- set attempts = segment_profiles.bookkeeping_relation(mapping_name, 'attempts') -%}
  {%- set unsent = segment_profiles.unsent_operations(send) -%}
  {%- if unsent -%}
    {%- set taken = 'select 1 from ' ~ changes ~ ' as c where c.__sp_op in (' ~ unsent ~ ')' -%}
    {% do segment_profiles.rewrite_table(state,
        'select s.record_key, s.row_hash, s.change_version, s.synced_at from ' ~ state ~ ' as s'
        ~ ' where not exists (' ~ taken ~ ' and c.__sp_key = s.record_key)'
        ~ " union all select __sp_key as record_key, case when __sp_op = 'deleted' then null else __sp_hash end"
        ~ ' as row_hash, __sp_version as change_version, ' ~ dbt.current_timestamp() ~ ' as synced_at'
        ~ ' from ' ~ changes ~ ' where __sp_op in (' ~ unsent ~ ')') %}
    {% do segment_profiles.rewrite_table(attempts,
        'select t.* from ' ~ attempts ~ ' as t where not exists (' ~ taken ~ ' and c.__sp_key = t.record_key)') %}
  {%- endif -%}
{%- endmacro %}

{% macro databricks__apply_unsent_changes_from(mapping_name, changes, send) -%}
  {#- Delta and Iceberg: MERGE (a changes table has one row per key) -#}
  {%- set state = segment_profiles.bookkeeping_relation(mapping_name, 'state') -%}
  {%- set attempts = segment_profiles.bookkeeping_relation(mapping_name, 'attempts') -%}
  {%- set unsent = segment_profiles.unsent_operations(send) -%}
  {%- if unsent -%}
    {%- set rows = "(select __sp_key, case when __sp_op = 'deleted' then null else __sp_hash end as __sp_hash,"
        ~ ' __sp_version from ' ~ changes ~ ' where __sp_op in (' ~ unsent ~ ')) as c' -%}
    {% do run_query('merge into ' ~ state ~ ' as s using ' ~ rows ~ ' on s.record_key = c.__sp_key'
        ~ ' when matched then update set row_hash = c.__sp_hash, change_version = c.__sp_version,'
        ~ ' synced_at = ' ~ dbt.current_timestamp()
        ~ ' when not matched then insert (record_key, row_hash, change_version, synced_at)'
        ~ ' values (c.__sp_key, c.__sp_hash, c.__sp_version, ' ~ dbt.current_timestamp() ~ ')') %}
    {% do run_query('merge into ' ~ attempts ~ ' as t using ' ~ rows ~ ' on t.record_key = c.__sp_key'
        ~ ' when matched then delete') %}
  {%- endif -%}
{%- endmacro %}
