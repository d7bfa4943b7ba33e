{% macro apply_unsent_changes_from(state, changes, primary_key, send) -%}
  {{ return(adapter.dispatch('apply_unsent_changes_from', 'segment_profiles')(state, changes, primary_key, send)) }}
{%- endmacro %}

{% macro default__apply_unsent_changes_from(state, changes, primary_key, send) -%}
  {#-
    changes the mapping does not send are taken into the state at once, so they do not come back
    as pending on every run (as Segment's own Reverse ETL keeps one checksum per record).
  -#}
  {%- set pk = adapter.quote(primary_key) -%}
  {%- set unsent = [] -%}
  {%- for op in ['added', 'updated', 'deleted'] if op not in send -%}
    {%- do unsent.append("'" ~ op ~ "'") -%}
  {%- endfor -%}
  {%- if unsent -%}
    {% do run_query('delete from ' ~ state ~ ' where record_key in (select ' ~ pk ~ ' from '
        ~ changes ~ ' where __sp_op in (' ~ unsent | join(', ') ~ '))') %}
    {%- set stored = unsent | reject('equalto', "'deleted'") | list -%}
    {%- if stored -%}
      {% do run_query('insert into ' ~ state ~ ' (record_key, row_hash, synced_at) select ' ~ pk
          ~ ', __sp_hash, ' ~ dbt.current_timestamp() ~ ' from ' ~ changes
          ~ ' where __sp_op in (' ~ stored | join(', ') ~ ')') %}
    {%- endif -%}
  {%- endif -%}
{%- endmacro %}
