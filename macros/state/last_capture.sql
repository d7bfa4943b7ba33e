{% macro last_capture(mapping_name) -%}
  {{ return(adapter.dispatch('last_capture', 'segment_profiles')(mapping_name)) }}
{%- endmacro %}

{% macro default__last_capture(mapping_name) -%}
  {#- the mapping's row in segment_captures as a dict, or none before its first capture -#}
  {%- set result = run_query('select relation_name, key_column, key_type, hash_version, allow_mass_delete, attempted from '
      ~ segment_profiles.bookkeeping_relation_named('segment_captures')
      ~ " where mapping_name = '" ~ mapping_name ~ "'") -%}
  {%- if result.rows | length == 0 -%}{{ return(none) }}{%- endif -%}
  {%- set row = result.rows[0] -%}
  {{ return({'relation_name': row[0], 'key_column': row[1], 'key_type': row[2],
             'hash_version': row[3], 'allow_mass_delete': row[4],
             'attempted': row[5]}) }}
{%- endmacro %}
