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

{% macro snowflake__pending_from_changes_sql(changes, primary_key, columns, send) -%}
  {#- as default__, numbered in key order: Snowflake's row_number() requires an order by -#}
  {%- set numbered = segment_profiles.default__pending_from_changes_sql(changes, primary_key, columns, send) -%}
  {{ numbered | replace('row_number() over ()', 'row_number() over (order by __sp_key)') }}
{%- endmacro %}

{% macro spark__pending_from_changes_sql(changes, primary_key, columns, send) -%}
  {#- as on Snowflake: Spark 4 refuses row_number() over an unordered window -#}
  {{ segment_profiles.snowflake__pending_from_changes_sql(changes, primary_key, columns, send) }}
{%- endmacro %}
