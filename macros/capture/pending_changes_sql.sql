{% macro pending_changes_sql(state, relation, primary_key, columns, actual, send) -%}
  {{ return(adapter.dispatch('pending_changes_sql', 'segment_profiles')(state, relation, primary_key, columns, actual, send)) }}
{%- endmacro %}

{% macro default__pending_changes_sql(state, relation, primary_key, columns, actual, send) -%}
  {#- the mapping's changes to send, numbered so the runner can acknowledge them by range -#}
  (
  {{ segment_profiles.changes_cte(state, relation, primary_key, columns, actual) }}
  select
    cast(row_number() over () as bigint) as __sp_seq,
    __sp_op,
    cast({{ adapter.quote(primary_key) }} as {{ dbt.type_string() }}) as __sp_key,
    __sp_hash,
    {%- for column in columns %}
    {{ adapter.quote(column) }}{{ ',' if not loop.last }}
    {%- endfor %}
  from __sp_changes
  where __sp_op in ({% for op in send %}'{{ op }}'{{ ',' if not loop.last }}{% endfor %})
  )
{%- endmacro %}
