{% macro rewrite_staging_relation(relation) -%}
  {#- where rewrite_table stages a table's new rows, beside it -#}
  {{ return(relation.incorporate(path={'identifier': relation.identifier ~ '__sp_rewrite'})) }}
{%- endmacro %}
