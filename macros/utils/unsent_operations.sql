{% macro unsent_operations(send) -%}
  {#- the operations a mapping does not send, as a SQL list of literals ('' when it sends all) -#}
  {%- set unsent = [] -%}
  {%- for op in ['added', 'updated', 'deleted'] if op not in send -%}
    {%- do unsent.append("'" ~ op ~ "'") -%}
  {%- endfor -%}
  {{ return(unsent | join(', ')) }}
{%- endmacro %}
