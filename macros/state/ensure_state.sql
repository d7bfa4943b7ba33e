{% macro ensure_state(mapping_name) -%}
  {{ return(adapter.dispatch('ensure_state', 'segment_profiles')(mapping_name)) }}
{%- endmacro %}

{% macro default__ensure_state(mapping_name) -%}
  {#-
    state: per key, the hash and change version Segment last acknowledged (a NULL hash: the
    key's delete was acknowledged; the row stays so a re-added key gets a new version).
    acks: what the runner's batches carried when Segment answered 2xx, folded into the state by
    the next capture. attempts: what a sync set out to send; one without an ack is in doubt.
    keys are text, so a key's identity does not depend on its column type.
  -#}
  {%- set text = segment_profiles.text_type() -%}
  {%- set int = dbt.type_bigint() -%}
  {%- set ts = dbt.type_timestamp() -%}
  {%- set options = segment_profiles.bookkeeping_table_options() -%}
  {% do run_query('create table if not exists ' ~ segment_profiles.bookkeeping_relation(mapping_name, 'state')
      ~ ' (record_key ' ~ text ~ ', row_hash ' ~ text ~ ', change_version ' ~ int ~ ', synced_at ' ~ ts ~ ') ' ~ options) %}
  {% do run_query('create table if not exists ' ~ segment_profiles.bookkeeping_relation(mapping_name, 'acks')
      ~ ' (record_key ' ~ text ~ ', row_hash ' ~ text ~ ', operation ' ~ text ~ ', change_version ' ~ int
      ~ ', acked_at ' ~ ts ~ ') ' ~ options) %}
  {% do run_query('create table if not exists ' ~ segment_profiles.bookkeeping_relation(mapping_name, 'attempts')
      ~ ' (record_key ' ~ text ~ ', row_hash ' ~ text ~ ', operation ' ~ text ~ ', change_version ' ~ int ~ ') ' ~ options) %}
{%- endmacro %}

{% macro postgres__ensure_state(mapping_name) -%}
  {{ segment_profiles.default__ensure_state(mapping_name) }}
  {#- Postgres has no zone maps: acknowledgements and the diff look keys up one by one -#}
  {%- for role, columns in [('state', 'record_key'), ('acks', 'record_key, change_version'), ('attempts', 'record_key, change_version')] -%}
    {%- set relation = segment_profiles.bookkeeping_relation(mapping_name, role) -%}
    {% do run_query('create ' ~ ('unique ' if role == 'state' else '') ~ 'index if not exists '
        ~ adapter.quote(relation.identifier ~ '_key') ~ ' on ' ~ relation ~ ' (' ~ columns ~ ')') %}
  {%- endfor -%}
{%- endmacro %}

{% macro redshift__ensure_state(mapping_name) -%}
  {#- Redshift has no indexes (its dispatch would otherwise take postgres__ensure_state) -#}
  {% do segment_profiles.default__ensure_state(mapping_name) %}
{%- endmacro %}

{% macro spark__ensure_state(mapping_name) -%}
  {#- before the capture reads them: a state write a kill interrupted is finished first -#}
  {% do segment_profiles.default__ensure_state(mapping_name) %}
  {%- for role in ['state', 'acks', 'attempts'] -%}
    {% do segment_profiles.finish_interrupted_rewrite(segment_profiles.bookkeeping_relation(mapping_name, role)) %}
  {%- endfor -%}
{%- endmacro %}
