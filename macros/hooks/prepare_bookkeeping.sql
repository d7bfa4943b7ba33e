{% macro prepare_bookkeeping() -%}
  {{ return(adapter.dispatch('prepare_bookkeeping', 'segment_profiles')()) }}
{%- endmacro %}

{% macro default__prepare_bookkeeping() -%}
  {#
    runs once per invocation (on-run-start), before any model: with threads > 1, post-hooks
    creating the same schema at once would conflict.
  #}
  {%- if execute -%}
    {% do adapter.create_schema(api.Relation.create(
        database=target.database, schema=segment_profiles.bookkeeping_schema())) %}
  {%- endif -%}
{%- endmacro %}
