{% macro bookkeeping_relation(mapping_name, role) -%}
  {{ return(adapter.dispatch('bookkeeping_relation', 'segment_profiles')(mapping_name, role)) }}
{%- endmacro %}

{% macro default__bookkeeping_relation(mapping_name, role) -%}
  {#- one table per mapping and role: mapping names are [a-z][a-z0-9_]*, so the name is safe -#}
  {{ return(segment_profiles.bookkeeping_relation_named(mapping_name ~ '__' ~ role)) }}
{%- endmacro %}

{% macro bookkeeping_relation_named(identifier) -%}
  {{ return(api.Relation.create(
      database=target.get('database'),
      schema=segment_profiles.bookkeeping_schema(),
      identifier=identifier,
      type='table')) }}
{%- endmacro %}
