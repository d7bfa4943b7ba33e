{% macro render_all(dispatchers) %}
  {#-
    every dispatcher of the package, rendered for the target's adapter: the variant dispatch picks
    is logged, then each is called as the capture, a reset and the runner's state writes call
    them. tests/adapters/render_macros.py answers the queries and records the statements.
  -#}
  {#- dispatch by another name: dbt's parser reads each adapter.dispatch call's literal name -#}
  {%- set find_variant = adapter.dispatch -%}
  {%- for name in dispatchers -%}
    {% do log('SP_DISPATCH ' ~ name ~ ' ' ~ find_variant(name, 'segment_profiles').macro.name, info=true) %}
  {%- endfor -%}
  {%- set relation = api.Relation.create(database=target.get('database'), schema=target.schema,
      identifier='dim_users', type='table') -%}
  {%- set available = {} -%}
  {%- for column in adapter.get_columns_in_relation(relation) -%}
    {%- do available.update({column.name | lower: column}) -%}
  {%- endfor -%}
  {%- set item = segment_profiles.segment_mappings() | first -%}
  {%- set state = segment_profiles.bookkeeping_relation('users', 'state') -%}
  {% do segment_profiles.prepare_bookkeeping() %}
  {% do segment_profiles.capture_changes() %}
  {% do segment_profiles.bookkeeping_schema() %}
  {% do segment_profiles.bookkeeping_file_format() %}
  {% do segment_profiles.bookkeeping_table_options() %}
  {% do segment_profiles.row_level_writes() %}
  {% do segment_profiles.text_type() %}
  {% do segment_profiles.mapping_columns(item.segment.primary_key, item.mapping) %}
  {% do segment_profiles.ensure_history() %}
  {% do segment_profiles.ensure_invalid_keys(segment_profiles.bookkeeping_relation('users', 'invalid')) %}
  {% do segment_profiles.acquire_mapping_lock('users') %}
  {% do segment_profiles.migrate_legacy_state('legacy_users') %}
  {% do segment_profiles.ensure_state('users') %}
  {% do segment_profiles.last_capture('users') %}
  {% do segment_profiles.record_doubts('users') %}
  {% do segment_profiles.capture_mapping(relation, 'dim_users', 'user_id', item.mapping, available) %}
  {% do segment_profiles.rehash_state('users', relation, 'user_id', ['email', 'plan', 'seen_at', 'user_id'],
      {'email': 'email', 'plan': 'plan', 'seen_at': 'seen_at', 'user_id': 'user_id'},
      {'email': available.email.data_type, 'plan': available.plan.data_type,
       'seen_at': available.seen_at.data_type, 'user_id': available.user_id.data_type}) %}
  {% do segment_profiles.fold_acknowledgements('users') %}
  {% do segment_profiles.apply_unsent_changes_from('users', segment_profiles.bookkeeping_relation('users', 'changes'), ['added']) %}
  {% do segment_profiles.record_capture('users', {'relation_name': 'analytics.dim_users', 'key_column': 'user_id',
      'key_type': 'int', 'hash_version': 2, 'pending_added': 1, 'pending_updated': 0, 'pending_deleted': 0,
      'state_rows': 1, 'deleting': 0, 'blocked_reason': "it's held", 'allow_mass_delete': false}) %}
  {% do segment_profiles.replace_table(segment_profiles.bookkeeping_relation('users', 'pending'), 'select 1 as x') %}
  {% do segment_profiles.replace_rows(segment_profiles.bookkeeping_relation('users', 'invalid'),
      segment_profiles.invalid_keys_from_sql('user_id', segment_profiles.bookkeeping_relation('users', 'unusable'))) %}
  {% do segment_profiles.scratch_table('users', 'unusable', segment_profiles.unusable_keys_sql(relation, 'user_id')) %}
  {% do segment_profiles.has_rows(segment_profiles.bookkeeping_relation('users', 'attempts')) %}
  {% do run_query(segment_profiles.changes_sql('users', relation, 'user_id', ['email', 'user_id'],
      {'email': 'email', 'user_id': 'user_id'}, {'email': available.email.data_type, 'user_id': available.user_id.data_type},
      segment_profiles.bookkeeping_relation('users', 'unusable'))) %}
  {% do run_query(segment_profiles.changes_sql('users', relation, 'user_id', ['email', 'user_id'],
      {'email': 'email', 'user_id': 'user_id'}, {'email': available.email.data_type, 'user_id': available.user_id.data_type},
      segment_profiles.bookkeeping_relation('users', 'unusable'), doubts=false)) %}
  {% do run_query('select ' ~ segment_profiles.row_hash(['email', 'seen_at'], {'email': available.email.data_type,
      'seen_at': available.seen_at.data_type}) ~ ' from ' ~ relation) %}
  {% do run_query('select ' ~ segment_profiles.hashable_text('seen_at', available.seen_at.data_type) ~ ' from ' ~ relation) %}
  {% do run_query(segment_profiles.pending_from_changes_sql(segment_profiles.bookkeeping_relation('users', 'changes'),
      'user_id', ['email', 'user_id'], ['added', 'deleted'])) %}
  {% do segment_profiles.create_table_from(segment_profiles.bookkeeping_relation('users', 'copy'), 'select 1 as x') %}
  {% do segment_profiles.clear_table(segment_profiles.bookkeeping_relation('users', 'acks')) %}
  {% do segment_profiles.rewrite_table(state, 'select * from ' ~ state) %}
  {% do segment_profiles.finish_interrupted_rewrite(state) %}
  {% do segment_profiles.forget_acknowledged('users') %}
  {% do segment_profiles.rebaseline_state('users') %}
  {% do segment_profiles.reset_mapping('users', rebaseline=true) %}
{% endmacro %}
