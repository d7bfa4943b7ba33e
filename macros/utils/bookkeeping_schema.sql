{% macro bookkeeping_schema() -%}
  {{ return(adapter.dispatch('bookkeeping_schema', 'segment_profiles')()) }}
{%- endmacro %}

{% macro default__bookkeeping_schema() -%}
  {%- set settings = var('segment_profiles', {}) or {} -%}
  {{ return(segment_profiles.render_setting(settings.get('schema')) or (target.schema ~ '_segment')) }}
{%- endmacro %}
