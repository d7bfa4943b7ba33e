{% macro capture_row_sql(mapping_name, values, part) -%}
  {#-
    a mapping's row of segment_captures as SQL: its column names (part 'columns'), its values as a
    select list ('values') or the values named after the columns ('aliased'). Values from
    `values`, then this invocation, not attempted yet, captured now.
  -#}
  {%- set names = ['relation_name', 'key_column', 'key_type', 'hash_version', 'pending_added',
      'pending_updated', 'pending_deleted', 'state_rows', 'deleting', 'blocked_reason', 'allow_mass_delete'] -%}
  {%- set literals = ["'" ~ mapping_name ~ "'"] -%}
  {%- for name in names -%}
    {%- set value = values.get(name) -%}
    {%- if value is none -%}{%- do literals.append('null') -%}
    {%- elif value is sameas true or value is sameas false -%}{%- do literals.append('true' if value else 'false') -%}
    {%- elif value is number -%}{%- do literals.append(value | string) -%}
    {%- else -%}{%- do literals.append("'" ~ (dbt.escape_single_quotes(value | string) | trim) ~ "'") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- do literals.extend(["'" ~ invocation_id ~ "'", 'false', dbt.current_timestamp()]) -%}
  {%- set columns = ['mapping_name'] + names + ['invocation_id', 'attempted', 'captured_at'] -%}
  {%- if part == 'columns' -%}{{ return(columns | join(', ')) }}{%- endif -%}
  {%- if part == 'values' -%}{{ return(literals | join(', ')) }}{%- endif -%}
  {%- set aliased = [] -%}
  {%- for column in columns -%}
    {%- do aliased.append(literals[loop.index0] ~ ' as ' ~ column) -%}
  {%- endfor -%}
  {{ return(aliased | join(', ')) }}
{%- endmacro %}
