{% macro text_type() -%}
  {{ return(adapter.dispatch('text_type', 'segment_profiles')()) }}
{%- endmacro %}

{% macro default__text_type() -%}
  {#- the type of keys, hashes and reasons: dbt's string type -#}
  {{ return(dbt.type_string()) }}
{%- endmacro %}

{% macro redshift__text_type() -%}
  {#- Redshift reads text (dbt's string type there) as varchar(256): long reasons and values would not fit -#}
  {{ return('varchar(65535)') }}
{%- endmacro %}
