{% macro capture_changes() -%}
  {{ return(adapter.dispatch('capture_changes', 'segment_profiles')()) }}
{%- endmacro %}

{% macro default__capture_changes() -%}
  {#- the project-wide post-hook: a no-op for models that declare no segment mappings -#}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set segment = (config.get('meta') or {}).get('segment') -%}
  {%- if not segment -%}{{ return('') }}{%- endif -%}
  {%- set primary_key = segment.get('primary_key') -%}
  {%- if not primary_key or primary_key is not string -%}
    {{ exceptions.raise_compiler_error(
        'segment_profiles: model ' ~ model.name ~ ': primary_key is missing: name the column that identifies a record') }}
  {%- endif -%}
  {%- set available = {} -%}
  {%- for column in adapter.get_columns_in_relation(this) -%}
    {%- do available.update({column.name | lower: column}) -%}
  {%- endfor -%}
  {%- for mapping in segment.get('mappings') or [] -%}
    {% do segment_profiles.capture_mapping(this, model.name, primary_key, mapping, available) %}
  {%- endfor -%}
  {{ return('') }}
{%- endmacro %}
