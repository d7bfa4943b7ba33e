{% macro segment_mappings() -%}
  {{ return(adapter.dispatch('segment_mappings', 'segment_profiles')()) }}
{%- endmacro %}

{% macro default__segment_mappings() -%}
  {#- every mapping of every enabled model in the project, with its model node -#}
  {%- set found = [] -%}
  {%- if execute -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' -%}
      {%- set segment = ((node.config or {}).get('meta') or {}).get('segment') -%}
      {%- if segment is mapping -%}
        {%- for mapping in segment.get('mappings') or [] if mapping is mapping and mapping.get('name') is string and modules.re.match('^[a-z][a-z0-9_]*$', mapping.get('name')) -%}
          {%- do found.append({'node': node, 'segment': segment, 'mapping': mapping}) -%}
        {%- endfor -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {{ return(found) }}
{%- endmacro %}
