{% macro fold_acknowledgements(mapping_name) -%}
  {{ return(adapter.dispatch('fold_acknowledgements', 'segment_profiles')(mapping_name)) }}
{%- endmacro %}

{% macro default__fold_acknowledgements(mapping_name) -%}
  {#-
    the acknowledgements the runner recorded (exactly what each answered batch carried) become
    the state; attempts that a later acknowledgement covers are no longer in doubt.
    the attempts table is named, unquoted, in the correlated subquery: mapping names are
    lower-case [a-z0-9_], and Snowflake would not find a quoted lower-case name.
  -#}
  {%- set state = segment_profiles.bookkeeping_relation(mapping_name, 'state') -%}
  {%- set acks = segment_profiles.bookkeeping_relation(mapping_name, 'acks') -%}
  {%- set attempts = segment_profiles.bookkeeping_relation(mapping_name, 'attempts') -%}
  {#- each step only when it has rows to go through: an empty journal would still be joined with the whole state -#}
  {%- if segment_profiles.has_rows(acks) -%}
    {% do run_query('delete from ' ~ state ~ ' where record_key in (select record_key from ' ~ acks ~ ')') %}
    {% do run_query('insert into ' ~ state ~ ' (record_key, row_hash, change_version, synced_at)'
        ~ " select a.record_key, case when a.operation = 'deleted' then null else a.row_hash end,"
        ~ ' a.change_version, a.acked_at from ' ~ acks ~ ' as a where not exists (select 1 from '
        ~ acks ~ ' as b where b.record_key = a.record_key and b.change_version > a.change_version)') %}
    {% do segment_profiles.clear_table(acks) %}
  {%- endif -%}
  {%- if segment_profiles.has_rows(attempts) -%}
    {% do run_query('delete from ' ~ attempts ~ ' where exists (select 1 from ' ~ state
        ~ ' as s where s.record_key = ' ~ attempts.identifier ~ '.record_key and s.change_version >= '
        ~ attempts.identifier ~ '.change_version)') %}
  {%- endif -%}
{%- endmacro %}

{% macro spark__fold_acknowledgements(mapping_name) -%}
  {#-
    parquet: the state and the attempts are rewritten whole, the acks emptied in between. Each
    step can be repeated: a kill before the acks are emptied folds them again next time, to the
    same state.
  -#}
  {%- if segment_profiles.row_level_writes() -%}
    {{ return(segment_profiles.databricks__fold_acknowledgements(mapping_name)) }}
  {%- endif -%}
  {%- set state = segment_profiles.bookkeeping_relation(mapping_name, 'state') -%}
  {%- set acks = segment_profiles.bookkeeping_relation(mapping_name, 'acks') -%}
  {%- set attempts = segment_profiles.bookkeeping_relation(mapping_name, 'attempts') -%}
  {%- set pending_acks = run_query('select count(*) from ' ~ acks).columns[0].values()[0] | int -%}
  {%- if pending_acks > 0 -%}
    {% do segment_profiles.rewrite_table(state,
        'select s.record_key, s.row_hash, s.change_version, s.synced_at from ' ~ state ~ ' as s'
        ~ ' where not exists (select 1 from ' ~ acks ~ ' as a where a.record_key = s.record_key)'
        ~ " union all select a.record_key, case when a.operation = 'deleted' then null else a.row_hash end,"
        ~ ' a.change_version, a.acked_at as synced_at from ' ~ acks ~ ' as a where not exists (select 1 from '
        ~ acks ~ ' as b where b.record_key = a.record_key and b.change_version > a.change_version)') %}
    {% do segment_profiles.clear_table(acks) %}
  {%- endif -%}
  {%- if run_query('select count(*) from ' ~ attempts).columns[0].values()[0] | int > 0 -%}
    {% do segment_profiles.rewrite_table(attempts,
        'select t.* from ' ~ attempts ~ ' as t where not exists (select 1 from ' ~ state
        ~ ' as s where s.record_key = t.record_key and s.change_version >= t.change_version)') %}
  {%- endif -%}
{%- endmacro %}

{% macro databricks__fold_acknowledgements(mapping_name) -%}
  {#-
    Delta and Iceberg: one MERGE per table. A MERGE wants at most one source row per target row,
    so each key's latest acknowledgement is picked by row_number.
  -#}
  {%- set state = segment_profiles.bookkeeping_relation(mapping_name, 'state') -%}
  {%- set acks = segment_profiles.bookkeeping_relation(mapping_name, 'acks') -%}
  {%- set attempts = segment_profiles.bookkeeping_relation(mapping_name, 'attempts') -%}
  {% do run_query('merge into ' ~ state ~ ' as s using (select record_key,'
      ~ " case when operation = 'deleted' then null else row_hash end as row_hash, change_version, acked_at"
      ~ ' from (select a.*, row_number() over (partition by a.record_key order by a.change_version desc) as __sp_rank'
      ~ ' from ' ~ acks ~ ' as a) as ranked where __sp_rank = 1) as a on s.record_key = a.record_key'
      ~ ' when matched then update set row_hash = a.row_hash, change_version = a.change_version, synced_at = a.acked_at'
      ~ ' when not matched then insert (record_key, row_hash, change_version, synced_at)'
      ~ ' values (a.record_key, a.row_hash, a.change_version, a.acked_at)') %}
  {% do segment_profiles.clear_table(acks) %}
  {% do run_query('merge into ' ~ attempts ~ ' as t using ' ~ state ~ ' as s'
      ~ ' on s.record_key = t.record_key and s.change_version >= t.change_version'
      ~ ' when matched then delete') %}
{%- endmacro %}
