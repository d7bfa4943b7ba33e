{% macro prepare_bookkeeping() -%}
  {{ return(adapter.dispatch('prepare_bookkeeping', 'segment_profiles')()) }}
{%- endmacro %}

{% macro default__prepare_bookkeeping() -%}
  {#-
    runs once per invocation (on-run-start), before any model: shared objects are created here,
    as post-hooks creating them at once on several threads would conflict.
    Only an invocation that will capture creates anything: a `dbt run` or `dbt build` (a retry of
    one too) that selects a model with segment mappings, or the package's views over the
    bookkeeping in a project that has mappings. `dbt test`, `dbt seed`, a run of unmapped models
    and projects without mappings leave the warehouse as it was.
  -#}
  {%- if not execute or flags.WHICH not in ('run', 'build') -%}{{ return('') }}{%- endif -%}
  {%- set mappings = segment_profiles.segment_mappings() -%}
  {%- set mapped = mappings | map(attribute='node.unique_id') | list -%}
  {%- set needed = [] -%}
  {%- for unique_id in selected_resources or [] if mappings and not needed -%}
    {%- if unique_id in mapped or unique_id.startswith('model.segment_profiles.') -%}
      {%- do needed.append(unique_id) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if not needed -%}{{ return('') }}{%- endif -%}
  {% do adapter.create_schema(api.Relation.create(
      database=target.get('database'), schema=segment_profiles.bookkeeping_schema())) %}
  {% do segment_profiles.ensure_history() %}
  {#- every mapping's, selected or not: the package's view over them unions them all -#}
  {%- for item in mappings -%}
    {% do segment_profiles.ensure_invalid_keys(
        segment_profiles.bookkeeping_relation(item.mapping.name, 'invalid')) %}
  {%- endfor -%}
  {{ return('') }}
{%- endmacro %}
