{% macro ensure_state(state, relation, actual_key) -%}
  {{ return(adapter.dispatch('ensure_state', 'segment_profiles')(state, relation, actual_key)) }}
{%- endmacro %}

{% macro default__ensure_state(state, relation, actual_key) -%}
  {#- the key keeps the model's own type, so a deleted row can carry it back unchanged -#}
  {% do run_query(
    'create table if not exists ' ~ state ~ ' as select '
    ~ adapter.quote(actual_key) ~ ' as record_key, cast(null as ' ~ dbt.type_string() ~ ') as row_hash, '
    ~ dbt.current_timestamp() ~ ' as synced_at from ' ~ relation ~ ' where 1 = 0') %}
{%- endmacro %}

{% macro postgres__ensure_state(state, relation, actual_key) -%}
  {{ segment_profiles.default__ensure_state(state, relation, actual_key) }}
  {#- Postgres has no zone maps: acknowledgements and the diff look keys up one by one -#}
  {% do run_query('create unique index if not exists ' ~ adapter.quote(state.identifier ~ '_key')
      ~ ' on ' ~ state ~ ' (record_key)') %}
{%- endmacro %}
