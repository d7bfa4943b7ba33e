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
  {%- set unsent = [] -%}
  {%- for op in ['added', 'updated', 'deleted'] if op not in send -%}
    {%- do unsent.append("'" ~ op ~ "'") -%}
  {%- endfor -%}
  {%- if unsent -%}
    {%- set keys = 'select __sp_key from ' ~ changes ~ ' where __sp_op in (' ~ unsent | join(', ') ~ ')' -%}
    {% do run_query('delete from ' ~ state ~ ' where record_key in (' ~ keys ~ ')') %}
    {% do run_query('delete from ' ~ attempts ~ ' where record_key in (' ~ keys ~ ')') %}
    {% do run_query('insert into ' ~ state ~ ' (record_key, row_hash, change_version, synced_at)'
        ~ " select __sp_key, case when __sp_op = 'deleted' then null else __sp_hash end,"
        ~ ' __sp_version, ' ~ dbt.current_timestamp() ~ ' from ' ~ changes
        ~ ' where __sp_op in (' ~ unsent | join(', ') ~ ')') %}
  {%- endif -%}
{%- endmacro %}
