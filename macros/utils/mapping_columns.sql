{% macro mapping_columns(primary_key, mapping) -%}
  {{ return(adapter.dispatch('mapping_columns', 'segment_profiles')(primary_key, mapping)) }}
{%- endmacro %}

{% macro default__mapping_columns(primary_key, mapping) -%}
  {#
    every column a mapping reads, primary key included, sorted and distinct: the hash depends on
    this order, so it must not depend on the order of keys in schema.yml.
    the object fields are the same for every action; there a dict maps names to sources, while in
    scalar fields a dict is a {value: constant}.
  #}
  {%- set object_fields = ['traits', 'properties', 'subscription_groups', 'consent'] -%}
  {%- set found = [primary_key] -%}
  {%- for field_name, source in (mapping.get('fields') or {}).items() -%}
    {%- if source is string -%}
      {%- do found.append(source) -%}
    {%- elif field_name in object_fields and source is mapping -%}
      {%- for inner in source.values() if inner is string -%}
        {%- do found.append(inner) -%}
      {%- endfor -%}
    {%- elif field_name in object_fields and source is iterable -%}
      {%- for inner in source if inner is string -%}
        {%- do found.append(inner) -%}
      {%- endfor -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(found | unique | sort(case_sensitive=true)) }}
{%- endmacro %}
