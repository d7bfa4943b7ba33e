{% macro invalid_keys_sql(relation, primary_key, actual_key) -%}
  {{ return(adapter.dispatch('invalid_keys_sql', 'segment_profiles')(relation, primary_key, actual_key)) }}
{%- endmacro %}

{% macro default__invalid_keys_sql(relation, primary_key, actual_key) -%}
  {#- rows that cannot be sent because their key is NULL or not unique, with the reason -#}
  {%- set pk = adapter.quote(actual_key) -%}
  (
  select
    cast({{ pk }} as {{ dbt.type_string() }}) as record_key,
    case
      when {{ pk }} is null then 'primary key {{ primary_key | replace("'", "''") }} is NULL'
      else 'primary key {{ primary_key | replace("'", "''") }} is duplicated'
    end as reason,
    count(*) as row_count,
    {{ dbt.current_timestamp() }} as captured_at
  from {{ relation }}
  where {{ pk }} is null
     or {{ pk }} in (
       select {{ pk }} from {{ relation }}
       where {{ pk }} is not null
       group by {{ pk }}
       having count(*) > 1
     )
  group by 1, 2
  )
{%- endmacro %}
