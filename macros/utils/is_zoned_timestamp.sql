{% macro is_zoned_timestamp(data_type) -%}
  {%- set kind = (data_type or '') | lower -%}
  {{ return(kind == 'timestamptz' or 'with time zone' in kind or kind in ('timestamp_tz', 'timestamp_ltz')) }}
{%- endmacro %}
