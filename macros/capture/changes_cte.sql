{% macro changes_cte(state, relation, primary_key, columns, actual) -%}
  {{ return(adapter.dispatch('changes_cte', 'segment_profiles')(state, relation, primary_key, columns, actual)) }}
{%- endmacro %}

{% macro default__changes_cte(state, relation, primary_key, columns, actual) -%}
  {#-
    the rows of the model with a usable key, hashed over the mapped columns, beside the state:
    a key that is NULL or appears more than once is left out here (see invalid_keys_sql).
  -#}
  {%- set pk = adapter.quote(primary_key) -%}
  with __sp_source as (
    select
      {%- for column in columns %}
      {{ adapter.quote(actual[column]) }} as {{ adapter.quote(column) }}{{ ',' if not loop.last }}
      {%- endfor %}
    from {{ relation }}
  ),
  __sp_key_counts as (
    select {{ pk }} as __sp_key_value, count(*) as __sp_rows
    from __sp_source
    where {{ pk }} is not null
    group by {{ pk }}
  ),
  __sp_current as (
    select s.*, {{ segment_profiles.row_hash(columns) }} as __sp_hash
    from __sp_source as s
    inner join __sp_key_counts as k
      on k.__sp_key_value = s.{{ pk }}
    where k.__sp_rows = 1
  ),
  __sp_changes as (
    select
      case when st.record_key is null then 'added' else 'updated' end as __sp_op,
      c.__sp_hash,
      {%- for column in columns %}
      c.{{ adapter.quote(column) }}{{ ',' if not loop.last }}
      {%- endfor %}
    from __sp_current as c
    left join {{ state }} as st
      on st.record_key = c.{{ pk }}
    where st.record_key is null or st.row_hash <> c.__sp_hash
    union all
    {# a deleted row carries its key and NULL in every other mapped column #}
    select
      'deleted' as __sp_op,
      st.row_hash as __sp_hash,
      {%- for column in columns %}
      {{ 'st.record_key' if column == primary_key else 'null' }}{{ ',' if not loop.last }}
      {%- endfor %}
    from {{ state }} as st
    where not exists (
      select 1 from __sp_source as s where s.{{ pk }} = st.record_key
    )
  )
{%- endmacro %}
