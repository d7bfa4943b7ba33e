{% macro record_capture(mapping_name, values) -%}
  {{ return(adapter.dispatch('record_capture', 'segment_profiles')(mapping_name, values)) }}
{%- endmacro %}

{% macro default__record_capture(mapping_name, values) -%}
  {#- the mapping's row in segment_captures, replaced: what the runner checks before sending -#}
  {%- set table = segment_profiles.bookkeeping_relation_named('segment_captures') -%}
  {%- set literals = [] -%}
  {%- for name in ['relation_name', 'key_column', 'key_type', 'hash_version', 'pending_added', 'pending_updated', 'pending_deleted', 'state_rows', 'deleting', 'blocked_reason', 'allow_mass_delete'] -%}
    {%- set value = values.get(name) -%}
    {%- if value is none -%}{%- do literals.append('null') -%}
    {%- elif value is sameas true or value is sameas false -%}{%- do literals.append('true' if value else 'false') -%}
    {%- elif value is number -%}{%- do literals.append(value | string) -%}
    {%- else -%}{%- do literals.append("'" ~ (value | string | replace("'", "''")) ~ "'") -%}
    {%- endif -%}
  {%- endfor -%}
  {% do run_query('delete from ' ~ table ~ " where mapping_name = '" ~ mapping_name ~ "'") %}
  {% do run_query('insert into ' ~ table ~ ' (mapping_name, relation_name, key_column, key_type, hash_version,'
      ~ ' pending_added, pending_updated, pending_deleted, state_rows, deleting, blocked_reason,'
      ~ " allow_mass_delete, invocation_id, attempted, captured_at) values ('" ~ mapping_name ~ "', "
      ~ literals | join(', ') ~ ", '" ~ invocation_id ~ "', false, " ~ dbt.current_timestamp() ~ ')') %}
{%- endmacro %}
