{% macro prepare_bookkeeping() -%}
  {{ return(adapter.dispatch('prepare_bookkeeping', 'segment_profiles')()) }}
{%- endmacro %}

{% macro default__prepare_bookkeeping() -%}
  {#-
    runs once per invocation (on-run-start), before any model: shared objects are created here,
    as post-hooks creating them at once on several threads would conflict.
  -#}
  {%- if execute -%}
    {% do adapter.create_schema(api.Relation.create(
        database=target.database, schema=segment_profiles.bookkeeping_schema())) %}
    {% do segment_profiles.ensure_history() %}
    {%- for item in segment_profiles.segment_mappings() -%}
      {% do segment_profiles.ensure_invalid_keys(
          segment_profiles.bookkeeping_relation(item.mapping.name, 'invalid')) %}
    {%- endfor -%}
  {%- endif -%}
{%- endmacro %}
