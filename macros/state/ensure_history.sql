{% macro ensure_history() -%}
  {{ return(adapter.dispatch('ensure_history', 'segment_profiles')()) }}
{%- endmacro %}

{% macro default__ensure_history() -%}
  {#- the runner writes these; created here too so the package's models can select from them -#}
  {%- set schema = segment_profiles.bookkeeping_schema() -%}
  {%- set text = segment_profiles.text_type() -%}
  {%- set ts = dbt.type_timestamp() -%}
  {%- set int = dbt.type_bigint() -%}
  {%- set options = segment_profiles.bookkeeping_table_options() -%}
  {% do run_query('create table if not exists ' ~ segment_profiles.bookkeeping_relation_named('segment_runs')
      ~ ' (run_id ' ~ text ~ ', mapping_name ' ~ text ~ ', profile_space ' ~ text
      ~ ', started_at ' ~ ts ~ ', ended_at ' ~ ts ~ ', status ' ~ text
      ~ ', added ' ~ int ~ ', updated ' ~ int ~ ', deleted ' ~ int ~ ', sent ' ~ int
      ~ ', acknowledged ' ~ int ~ ', rejected ' ~ int ~ ', failed ' ~ int
      ~ ', invalid_keys ' ~ int ~ ') ' ~ options) %}
  {% do run_query('create table if not exists ' ~ segment_profiles.bookkeeping_relation_named('segment_record_issues')
      ~ ' (mapping_name ' ~ text ~ ', record_key ' ~ text ~ ', operation ' ~ text
      ~ ', kind ' ~ text ~ ', reason ' ~ text ~ ', first_seen ' ~ ts ~ ', last_seen ' ~ ts
      ~ ', attempts ' ~ int ~ ') ' ~ options) %}
  {% do run_query('create table if not exists ' ~ segment_profiles.bookkeeping_relation_named('segment_mappings')
      ~ ' (mapping_name ' ~ text ~ ', fingerprint ' ~ text ~ ', definition ' ~ text
      ~ ', updated_at ' ~ ts ~ ') ' ~ options) %}
  {#- one row per mapping: what its last capture saw, and what the runner must check first -#}
  {% do run_query('create table if not exists ' ~ segment_profiles.bookkeeping_relation_named('segment_captures')
      ~ ' (mapping_name ' ~ text ~ ', relation_name ' ~ text ~ ', key_column ' ~ text
      ~ ', key_type ' ~ text ~ ', hash_version ' ~ int ~ ', captured_at ' ~ ts
      ~ ', pending_added ' ~ int ~ ', pending_updated ' ~ int ~ ', pending_deleted ' ~ int
      ~ ', state_rows ' ~ int ~ ', deleting ' ~ int ~ ', blocked_reason ' ~ text
      ~ ', allow_mass_delete ' ~ dbt.type_boolean() ~ ', invocation_id ' ~ text
      ~ ', attempted ' ~ dbt.type_boolean() ~ ') ' ~ options) %}
{%- endmacro %}

{% macro spark__ensure_history() -%}
  {#- segment_captures is rewritten whole on parquet: a rewrite a kill interrupted is finished first -#}
  {% do segment_profiles.default__ensure_history() %}
  {% do segment_profiles.finish_interrupted_rewrite(segment_profiles.bookkeeping_relation_named('segment_captures')) %}
{%- endmacro %}
