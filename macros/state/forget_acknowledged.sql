{% macro forget_acknowledged(mapping_name) -%}
  {{ return(adapter.dispatch('forget_acknowledged', 'segment_profiles')(mapping_name)) }}
{%- endmacro %}

{% macro default__forget_acknowledged(mapping_name) -%}
  {#-
    what `dbt-segment reset` forgets before it captures anew: the last capture's record, the
    acknowledgements (folded in first, so each key keeps its change version), the attempts in
    doubt, and every acknowledged hash. Tombstones keep each key's change version: with no live
    state every usable row is added, under a new messageId.
  -#}
  {%- set state = segment_profiles.bookkeeping_relation(mapping_name, 'state') -%}
  {% do run_query('delete from ' ~ segment_profiles.bookkeeping_relation_named('segment_captures')
      ~ " where mapping_name = '" ~ mapping_name ~ "'") %}
  {% do segment_profiles.fold_acknowledgements(mapping_name) %}
  {% do segment_profiles.clear_table(segment_profiles.bookkeeping_relation(mapping_name, 'attempts')) %}
  {% do run_query('update ' ~ state ~ ' set row_hash = null') %}
{%- endmacro %}

{% macro spark__forget_acknowledged(mapping_name) -%}
  {#- parquet: segment_captures and the state rewritten whole -#}
  {%- if segment_profiles.row_level_writes() -%}
    {{ return(segment_profiles.default__forget_acknowledged(mapping_name)) }}
  {%- endif -%}
  {%- set state = segment_profiles.bookkeeping_relation(mapping_name, 'state') -%}
  {%- set captures = segment_profiles.bookkeeping_relation_named('segment_captures') -%}
  {% do segment_profiles.rewrite_table(captures, 'select * from ' ~ captures
      ~ " where mapping_name <> '" ~ mapping_name ~ "'") %}
  {% do segment_profiles.fold_acknowledgements(mapping_name) %}
  {% do segment_profiles.clear_table(segment_profiles.bookkeeping_relation(mapping_name, 'attempts')) %}
  {% do segment_profiles.rewrite_table(state, 'select record_key, cast(null as ' ~ dbt.type_string()
      ~ ') as row_hash, change_version, synced_at from ' ~ state) %}
{%- endmacro %}
