{% macro pending_from_changes_sql(changes, primary_key, columns, send) -%}
  {{ return(adapter.dispatch('pending_from_changes_sql', 'segment_profiles')(changes, primary_key, columns, send)) }}
{%- endmacro %}

{% macro default__pending_from_changes_sql(changes, primary_key, columns, send) -%}
  {#- the mapping's changes to send, numbered so batches can name their rows -#}
  (
  select
    cast(row_number() over () as {{ dbt.type_bigint() }}) as __sp_seq,
    __sp_op,
    __sp_key,
    __sp_hash,
    __sp_version,
    {%- for column in columns %}
    {{ adapter.quote(column) }}{{ ',' if not loop.last }}
    {%- endfor %}
  from {{ changes }}
  where __sp_op in ({% for op in send %}'{{ op }}'{{ ',' if not loop.last }}{% endfor %})
  )
{%- endmacro %}
