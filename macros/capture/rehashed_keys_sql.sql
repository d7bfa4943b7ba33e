{% macro rehashed_keys_sql(relation, primary_key, columns, actual, types) -%}
  {#- each row's key (as text), its hash version 1 (the session's text) and its hash version 2 -#}
  {{ return('select cast(' ~ adapter.quote(primary_key) ~ ' as ' ~ segment_profiles.text_type() ~ ') as __sp_key, '
      ~ segment_profiles.row_hash(columns) ~ ' as __sp_old, '
      ~ segment_profiles.row_hash(columns, types) ~ ' as __sp_new from (select '
      ~ segment_profiles.aliased_columns(columns, actual) ~ ' from ' ~ relation ~ ') as s') }}
{%- endmacro %}
