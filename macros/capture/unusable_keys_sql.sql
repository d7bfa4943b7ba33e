{% macro unusable_keys_sql(relation, actual_key) -%}
  {{ return(adapter.dispatch('unusable_keys_sql', 'segment_profiles')(relation, actual_key)) }}
{%- endmacro %}

{% macro default__unusable_keys_sql(relation, actual_key) -%}
  {#-
    the keys (as text, as the state holds them) no row can be sent under, with their row count:
    those more than one row carries, NULL and the empty string. One grouping pass over the model
    finds all three (NULL is a group of its own), where a pass for the duplicates and one scan
    for each of the others read the model three times.
  -#}
  {%- set key_text = 'cast(' ~ adapter.quote(actual_key) ~ ' as ' ~ segment_profiles.text_type() ~ ')' -%}
  select {{ key_text }} as __sp_key_value, count(*) as __sp_rows
  from {{ relation }}
  group by {{ key_text }}
  having count(*) > 1 or {{ key_text }} is null or {{ key_text }} = ''
{%- endmacro %}
