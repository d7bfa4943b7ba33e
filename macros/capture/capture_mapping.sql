{% macro capture_mapping(relation, model_name, primary_key, mapping, available) -%}
  {{ return(adapter.dispatch('capture_mapping', 'segment_profiles')(relation, model_name, primary_key, mapping, available)) }}
{%- endmacro %}

{% macro default__capture_mapping(relation, model_name, primary_key, mapping, available) -%}
  {#- `available`: the model's columns by lower-cased name -#}
  {%- set name = mapping.get('name') -%}
  {%- set where = 'segment_profiles: model ' ~ model_name ~ ', mapping ' ~ name ~ ': ' -%}
  {%- if name is not string or not modules.re.match('^[a-z][a-z0-9_]*$', name) -%}
    {{ exceptions.raise_compiler_error(
        'segment_profiles: model ' ~ model_name ~ ': name ' ~ "'" ~ (name | string) ~ "'" ~ ' must match [a-z][a-z0-9_]*') }}
  {%- endif -%}
  {%- set columns = segment_profiles.mapping_columns(primary_key, mapping) -%}
  {%- set actual = {} -%}
  {%- set types = {} -%}
  {%- for column in columns -%}
    {%- if column | lower not in available -%}
      {{ exceptions.raise_compiler_error(where ~ ('primary_key' if column == primary_key else 'fields')
          ~ " column '" ~ column ~ "' is not in model " ~ model_name ~ ' (it has: '
          ~ (available.values() | map(attribute='name') | join(', ')) ~ ')') }}
    {%- endif -%}
    {%- do actual.update({column: available[column | lower].name}) -%}
    {%- do types.update({column: available[column | lower].data_type}) -%}
  {%- endfor -%}
  {%- set send = mapping.get('send') or ['added', 'updated'] -%}
  {%- if send is string -%}{%- set send = [send] -%}{%- endif -%}
  {%- set max_deleted_percent = mapping.get('max_deleted_percent', 20) -%}
  {%- set relation_name = (relation | string) | replace('"', '') | replace('`', '') | lower -%}
  {%- set key_type = (types[primary_key] or '') | lower -%}

  {% do segment_profiles.acquire_mapping_lock(name) %}
  {%- set migrated = segment_profiles.migrate_legacy_state(name) -%}
  {% do segment_profiles.ensure_state(name) %}
  {%- set last = segment_profiles.last_capture(name) -%}
  {%- set state = segment_profiles.bookkeeping_relation(name, 'state') -%}
  {%- set pending_relation = segment_profiles.bookkeeping_relation(name, 'pending') -%}
  {%- if last is not none and last.attempted and adapter.get_relation(database=pending_relation.database,
        schema=pending_relation.schema, identifier=pending_relation.identifier) is not none -%}
    {% do segment_profiles.record_doubts(name) %}
  {%- endif -%}
  {%- if last is not none and last.relation_name and last.relation_name != relation_name -%}
    {{ exceptions.raise_compiler_error(where ~ 'its state in ' ~ state ~ ' was captured from '
        ~ last.relation_name ~ ', not ' ~ relation_name ~ ': two targets (or a moved model) share one bookkeeping schema.'
        ~ ' Give each target its own (leave vars.segment_profiles.schema unset for <target schema>_segment, or'
        ~ ' include {{ target.name }} in it); if the model moved on purpose, run `dbt-segment reset ' ~ name ~ '`') }}
  {%- endif -%}
  {%- if last is not none and last.key_type
        and segment_profiles.type_family(last.key_type) != segment_profiles.type_family(key_type) -%}
    {#- the model is right, its keys may just no longer match the state: hold the mapping -#}
    {%- set reason = 'primary key column ' ~ primary_key ~ ' changed type from ' ~ last.key_type ~ ' to '
        ~ key_type ~ ' since the last capture, so its keys may no longer match the state: run `dbt-segment reset '
        ~ name ~ '` to send every row again, or `dbt-segment reset ' ~ name ~ ' --rebaseline --yes` to take the'
        ~ ' current rows as synced' -%}
    {% do exceptions.warn('segment_profiles: model ' ~ model_name ~ ', mapping ' ~ name ~ ': ' ~ reason) %}
    {% do segment_profiles.clear_table(segment_profiles.bookkeeping_relation(name, 'pending')) %}
    {% do segment_profiles.record_capture(name, {
        'relation_name': relation_name, 'key_column': primary_key, 'key_type': last.key_type,
        'hash_version': 2, 'pending_added': 0, 'pending_updated': 0, 'pending_deleted': 0,
        'blocked_reason': reason, 'allow_mass_delete': false}) %}
    {{ return(none) }}
  {%- endif -%}
  {%- if migrated or (last is none and run_query('select count(*) from ' ~ state).columns[0].values()[0] > 0)
        or (last is not none and (last.hash_version or 1) < 2) -%}
    {% do segment_profiles.rehash_state(name, relation, primary_key, columns, actual, types) %}
  {%- endif -%}
  {% do segment_profiles.fold_acknowledgements(name) %}

  {#- the keys no row can be sent under (duplicated, NULL, empty), computed once: for the changes and the invalid keys -#}
  {%- set unusable = segment_profiles.scratch_table(name, 'unusable',
      segment_profiles.unusable_keys_sql(relation, actual[primary_key])) -%}
  {#- every change, computed once (one pass over the model and the state), whatever is sent -#}
  {%- set doubts = segment_profiles.has_rows(segment_profiles.bookkeeping_relation(name, 'attempts')) -%}
  {%- set changes = segment_profiles.scratch_table(name, 'changes',
      segment_profiles.changes_sql(name, relation, primary_key, columns, actual, types, unusable, doubts)) -%}

  {%- set counts = {'added': 0, 'updated': 0, 'deleted': 0} -%}
  {%- for row in run_query('select __sp_op, count(*) from ' ~ changes ~ ' group by __sp_op').rows -%}
    {%- do counts.update({row[0]: row[1] | int}) -%}
  {%- endfor -%}
  {%- set unsent = [] -%}
  {%- for op, n in counts.items() if op not in send and n > 0 -%}
    {%- do unsent.append(op) -%}
  {%- endfor -%}
  {%- set state_rows = run_query('select count(*) from ' ~ state ~ ' where row_hash is not null').columns[0].values()[0] | int -%}
  {%- set allowed = last is not none and last.allow_mass_delete -%}
  {%- set blocked_reason = none -%}
  {%- if max_deleted_percent is not none and state_rows > 0 and not allowed
        and counts.deleted * 100 > max_deleted_percent * state_rows -%}
    {%- set blocked_reason = 'mass-delete guard: this capture would delete ' ~ counts.deleted ~ ' of ' ~ state_rows ~ ' keys ('
        ~ ((counts.deleted * 100 / state_rows) | round(1)) ~ '%), more than max_deleted_percent ' ~ max_deleted_percent
        ~ ': the state is kept as it was. If the model is right, run `dbt-segment sync --allow-mass-delete`;'
        ~ ' if not, fix it and `dbt run` again' -%}
  {%- elif unsent | length > 0 -%}
    {#- only when some change is not sent: taking none would still join (or rewrite) the whole state -#}
    {% do segment_profiles.apply_unsent_changes_from(name, changes, send) %}
  {%- endif -%}
  {% do segment_profiles.replace_table(segment_profiles.bookkeeping_relation(name, 'pending'),
      segment_profiles.pending_from_changes_sql(changes, primary_key, columns, send)) %}
  {%- set invalid = segment_profiles.bookkeeping_relation(name, 'invalid') -%}
  {% do segment_profiles.ensure_invalid_keys(invalid) %}
  {#- its rows replaced, not the table: package views select from it -#}
  {% do segment_profiles.replace_rows(invalid,
      segment_profiles.invalid_keys_from_sql(primary_key, unusable)) %}
  {% do segment_profiles.record_capture(name, {
      'relation_name': relation_name, 'key_column': primary_key, 'key_type': key_type, 'hash_version': 2,
      'pending_added': counts.added if 'added' in send else 0,
      'pending_updated': counts.updated if 'updated' in send else 0,
      'pending_deleted': counts.deleted if 'deleted' in send else 0,
      'state_rows': state_rows, 'deleting': counts.deleted,
      'blocked_reason': blocked_reason, 'allow_mass_delete': false}) %}
  {% do adapter.drop_relation(changes) %}
  {% do adapter.drop_relation(unusable) %}
{%- endmacro %}
