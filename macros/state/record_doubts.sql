{% macro record_doubts(mapping_name) -%}
  {{ return(adapter.dispatch('record_doubts', 'segment_profiles')(mapping_name)) }}
{%- endmacro %}

{% macro default__record_doubts(mapping_name) -%}
  {#-
    a sync that set out to send the pending changes (segment_captures.attempted) may have
    delivered any of them: those it has no acknowledgement for become attempts in doubt. Only the
    unacknowledged rows are copied, so the cost is the doubt, not the sync.
  -#}
  {%- set pending = segment_profiles.bookkeeping_relation(mapping_name, 'pending') -%}
  {%- set acks = segment_profiles.bookkeeping_relation(mapping_name, 'acks') -%}
  {%- set attempts = segment_profiles.bookkeeping_relation(mapping_name, 'attempts') -%}
  {% do run_query('insert into ' ~ attempts ~ ' (record_key, row_hash, operation, change_version)'
      ~ ' select p.__sp_key, p.__sp_hash, p.__sp_op, p.__sp_version from ' ~ pending ~ ' as p'
      ~ ' where not exists (select 1 from ' ~ acks ~ ' as a where a.record_key = p.__sp_key'
      ~ ' and a.change_version = p.__sp_version) and not exists (select 1 from ' ~ attempts
      ~ ' as t where t.record_key = p.__sp_key and t.change_version = p.__sp_version)') %}
{%- endmacro %}
