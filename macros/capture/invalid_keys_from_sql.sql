{% macro invalid_keys_from_sql(primary_key, unusable) -%}
  {{ return(adapter.dispatch('invalid_keys_from_sql', 'segment_profiles')(primary_key, unusable)) }}
{%- endmacro %}

{% macro default__invalid_keys_from_sql(primary_key, unusable) -%}
  {#- rows that cannot be sent because their key is NULL, empty or not unique, with the reason -#}
  {%- set label = dbt.escape_single_quotes(primary_key) | trim -%}
  select __sp_key_value,
    case when __sp_key_value is null then 'primary key {{ label }} is NULL'
         when __sp_key_value = '' then 'primary key {{ label }} is an empty string'
         else 'primary key {{ label }} is duplicated' end,
    __sp_rows, {{ dbt.current_timestamp() }}
  from {{ unusable }}
{%- endmacro %}
