{% macro pending_from_changes_sql(changes, primary_key, columns, send) -%}
  {{ return(adapter.dispatch('pending_from_changes_sql', 'segment_profiles')(changes, primary_key, columns, send)) }}
{%- endmacro %}

{% macro default__pending_from_changes_sql(changes, primary_key, columns, send) -%}
  {#- the mapping's changes to send, numbered so the runner can acknowledge them by range -#}
  (
  select
    cast(row_number() over () as bigint) as __sp_seq,
    __sp_op,
    cast({{ adapter.quote(primary_key) }} as {{ dbt.type_string() }}) as __sp_key,
    __sp_hash,
    {%- for column in columns %}
    {{ adapter.quote(column) }}{{ ',' if not loop.last }}
    {%- endfor %}
  from {{ changes }}
  where __sp_op in ({% for op in send %}'{{ op }}'{{ ',' if not loop.last }}{% endfor %})
  )
{%- endmacro %}
