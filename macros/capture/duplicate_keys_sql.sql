{% macro duplicate_keys_sql(relation, actual_key) -%}
  {{ return(adapter.dispatch('duplicate_keys_sql', 'segment_profiles')(relation, actual_key)) }}
{%- endmacro %}

{% macro default__duplicate_keys_sql(relation, actual_key) -%}
  {#- the keys (as text, as the state holds them) that more than one row carries -#}
  {%- set key_text = 'cast(' ~ adapter.quote(actual_key) ~ ' as ' ~ segment_profiles.text_type() ~ ')' -%}
  select {{ key_text }} as __sp_key_value, count(*) as __sp_rows
  from {{ relation }}
  where {{ adapter.quote(actual_key) }} is not null and {{ key_text }} <> ''
  group by {{ key_text }}
  having count(*) > 1
{%- endmacro %}
