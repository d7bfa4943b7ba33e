{% macro capture_mapping(relation, model_name, primary_key, mapping, available) -%}
  {{ return(adapter.dispatch('capture_mapping', 'segment_profiles')(relation, model_name, primary_key, mapping, available)) }}
{%- endmacro %}

{% macro default__capture_mapping(relation, model_name, primary_key, mapping, available) -%}
  {%- set name = mapping.get('name') -%}
  {%- if name is not string or not modules.re.match('^[a-z][a-z0-9_]*$', name) -%}
    {{ exceptions.raise_compiler_error(
        'segment_profiles: model ' ~ model_name ~ ': mapping name ' ~ (name | string) ~ ' must match [a-z][a-z0-9_]*') }}
  {%- endif -%}
  {%- set columns = segment_profiles.mapping_columns(primary_key, mapping) -%}
  {%- set actual = {} -%}
  {%- for column in columns -%}
    {%- if column | lower not in available -%}
      {{ exceptions.raise_compiler_error(
          'segment_profiles: model ' ~ model_name ~ ', mapping ' ~ name ~ ': column ' ~ column ~ ' is not in the model (it has: ' ~ (available.values() | join(', ')) ~ ')') }}
    {%- endif -%}
    {%- do actual.update({column: available[column | lower]}) -%}
  {%- endfor -%}
  {%- set send = mapping.get('send') or ['added', 'updated'] -%}
  {%- if send is string -%}{%- set send = [send] -%}{%- endif -%}
  {%- set state = segment_profiles.bookkeeping_relation(name, 'state') -%}
  {%- set pending = segment_profiles.bookkeeping_relation(name, 'pending') -%}
  {%- set invalid = segment_profiles.bookkeeping_relation(name, 'invalid') -%}

  {% do segment_profiles.ensure_state(state, relation, actual[primary_key]) %}
  {% do segment_profiles.apply_unsent_changes(state, relation, primary_key, columns, actual, send) %}
  {% do segment_profiles.replace_table(pending,
      segment_profiles.pending_changes_sql(state, relation, primary_key, columns, actual, send)) %}
  {% do segment_profiles.ensure_invalid_keys(invalid) %}
  {#- delete and insert, not replace: package views select from this table -#}
  {% do run_query('delete from ' ~ invalid) %}
  {% do run_query('insert into ' ~ invalid ~ ' (record_key, reason, row_count, captured_at) '
      ~ segment_profiles.invalid_keys_sql(relation, primary_key, actual[primary_key])) %}
{%- endmacro %}
