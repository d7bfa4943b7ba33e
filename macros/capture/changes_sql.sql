{% macro changes_sql(state, relation, primary_key, columns, actual, duplicates) -%}
  {{ return(adapter.dispatch('changes_sql', 'segment_profiles')(state, relation, primary_key, columns, actual, duplicates)) }}
{%- endmacro %}

{% macro default__changes_sql(state, relation, primary_key, columns, actual, duplicates) -%}
  {#-
    the model's rows with a key, hashed over the mapped columns, full-joined to the state:
    a state key no row has is deleted; a row whose key is not in the state is added, one whose
    hash differs is updated, unless its key is duplicated (see the invalid keys). A duplicated
    key still matches its state row, so it is not deleted either.
  -#}
  {%- set pk = adapter.quote(primary_key) -%}
  with __sp_source as (
    select
      {%- for column in columns %}
      {{ adapter.quote(actual[column]) }} as {{ adapter.quote(column) }}{{ ',' if not loop.last }}
      {%- endfor %}
    from {{ relation }}
    where {{ adapter.quote(actual[primary_key]) }} is not null
  ),
  __sp_current as (
    select s.*, {{ segment_profiles.row_hash(columns) }} as __sp_hash
    from __sp_source as s
  )
  select
    case when c.{{ pk }} is null then 'deleted'
         when st.record_key is null then 'added'
         else 'updated' end as __sp_op,
    case when c.{{ pk }} is null then st.row_hash else c.__sp_hash end as __sp_hash,
    {%- for column in columns %}
    {%- if column == primary_key %}
    case when c.{{ pk }} is null then st.record_key else c.{{ pk }} end as {{ pk }}{{ ',' if not loop.last }}
    {%- else %}
    c.{{ adapter.quote(column) }}{{ ',' if not loop.last }}
    {%- endif %}
    {%- endfor %}
  from __sp_current as c
  full outer join {{ state }} as st
    on st.record_key = c.{{ pk }}
  where c.{{ pk }} is null
     or ((st.record_key is null or st.row_hash <> c.__sp_hash)
         and not exists (select 1 from {{ duplicates }} as d where d.__sp_key_value = c.{{ pk }}))
{%- endmacro %}
