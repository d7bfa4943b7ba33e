{% macro invalid_keys_from_sql(relation, primary_key, actual_key, duplicates) -%}
  {{ return(adapter.dispatch('invalid_keys_from_sql', 'segment_profiles')(relation, primary_key, actual_key, duplicates)) }}
{%- endmacro %}

{% macro default__invalid_keys_from_sql(relation, primary_key, actual_key, duplicates) -%}
  {#- rows that cannot be sent because their key is NULL, empty or not unique, with the reason -#}
  {%- set label = dbt.escape_single_quotes(primary_key) | trim -%}
  {%- set key_text = 'cast(' ~ adapter.quote(actual_key) ~ ' as ' ~ segment_profiles.text_type() ~ ')' -%}
  select __sp_key_value, 'primary key {{ label }} is duplicated',
    __sp_rows, {{ dbt.current_timestamp() }}
  from {{ duplicates }}
  union all
  select cast(null as {{ segment_profiles.text_type() }}), 'primary key {{ label }} is NULL', count(*),
    {{ dbt.current_timestamp() }}
  from {{ relation }}
  where {{ adapter.quote(actual_key) }} is null
  having count(*) > 0
  union all
  select cast('' as {{ segment_profiles.text_type() }}), 'primary key {{ label }} is an empty string', count(*),
    {{ dbt.current_timestamp() }}
  from {{ relation }}
  where {{ key_text }} = ''
  having count(*) > 0
{%- endmacro %}
