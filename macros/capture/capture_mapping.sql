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
  {%- set key = adapter.quote(actual[primary_key]) -%}
  {#- temp tables are per connection, but name them per mapping all the same -#}
  {%- set duplicates = '__sp_duplicates_' ~ name -%}
  {%- set changes = '__sp_changes_' ~ name -%}

  {% do segment_profiles.ensure_state(state, relation, actual[primary_key]) %}
  {#- the keys that appear more than once, computed once: for the changes and the invalid keys -#}
  {% do run_query('drop table if exists ' ~ duplicates) %}
  {% do run_query('create temporary table ' ~ duplicates ~ ' as select ' ~ key ~ ' as __sp_key_value, count(*) as __sp_rows from '
      ~ relation ~ ' where ' ~ key ~ ' is not null group by ' ~ key ~ ' having count(*) > 1') %}
  {#- every change, computed once (one pass over the model and the state), whatever is sent -#}
  {% do run_query('drop table if exists ' ~ changes) %}
  {% do run_query('create temporary table ' ~ changes ~ ' as '
      ~ segment_profiles.changes_sql(state, relation, primary_key, columns, actual, duplicates)) %}
  {% do segment_profiles.apply_unsent_changes_from(state, changes, primary_key, send) %}
  {% do segment_profiles.replace_table(pending,
      segment_profiles.pending_from_changes_sql(changes, primary_key, columns, send)) %}
  {% do segment_profiles.ensure_invalid_keys(invalid) %}
  {#- delete and insert, not replace: package views select from this table -#}
  {% do run_query('delete from ' ~ invalid) %}
  {% do run_query('insert into ' ~ invalid ~ ' (record_key, reason, row_count, captured_at) '
      ~ segment_profiles.invalid_keys_from_sql(relation, primary_key, actual[primary_key], duplicates)) %}
  {% do run_query('drop table ' ~ changes) %}
  {% do run_query('drop table ' ~ duplicates) %}
{%- endmacro %}
