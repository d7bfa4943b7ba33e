{% macro fold_acknowledgements(mapping_name) -%}
  {{ return(adapter.dispatch('fold_acknowledgements', 'segment_profiles')(mapping_name)) }}
{%- endmacro %}

{% macro default__fold_acknowledgements(mapping_name) -%}
  {#-
    the acknowledgements the runner recorded (exactly what each answered batch carried) become
    the state; attempts that a later acknowledgement covers are no longer in doubt
  -#}
  {%- set state = segment_profiles.bookkeeping_relation(mapping_name, 'state') -%}
  {%- set acks = segment_profiles.bookkeeping_relation(mapping_name, 'acks') -%}
  {%- set attempts = segment_profiles.bookkeeping_relation(mapping_name, 'attempts') -%}
  {% do run_query('delete from ' ~ state ~ ' where record_key in (select record_key from ' ~ acks ~ ')') %}
  {% do run_query('insert into ' ~ state ~ ' (record_key, row_hash, change_version, synced_at)'
      ~ " select a.record_key, case when a.operation = 'deleted' then null else a.row_hash end,"
      ~ ' a.change_version, a.acked_at from ' ~ acks ~ ' as a where not exists (select 1 from '
      ~ acks ~ ' as b where b.record_key = a.record_key and b.change_version > a.change_version)') %}
  {% do run_query('delete from ' ~ acks) %}
  {%- set own = adapter.quote(attempts.identifier) -%}
  {% do run_query('delete from ' ~ attempts ~ ' where change_version <= (select max(s.change_version) from '
      ~ state ~ ' as s where s.record_key = ' ~ own ~ '.record_key)') %}
{%- endmacro %}
