{% macro row_hash_text(column, types) -%}
  {%- if types is none -%}
    {{ return('cast(' ~ adapter.quote(column) ~ ' as ' ~ segment_profiles.text_type() ~ ')') }}
  {%- endif -%}
  {{ return(segment_profiles.hashable_text(adapter.quote(column), types.get(column))) }}
{%- endmacro %}
