{% macro acquire_mapping_lock(mapping_name) -%}
  {{ return(adapter.dispatch('acquire_mapping_lock', 'segment_profiles')(mapping_name)) }}
{%- endmacro %}

{% macro default__acquire_mapping_lock(mapping_name) -%}
  {#-
    capture and sync of one mapping must not interleave. Warehouses without a lock the runner
    can share rely on their own single-writer rule (DuckDB locks its file); nothing to do here.
  -#}
  {{ return(none) }}
{%- endmacro %}

{% macro postgres__acquire_mapping_lock(mapping_name) -%}
  {#-
    the advisory lock `dbt-segment sync` holds while it sends this mapping: taken for the
    model's transaction, so it is released at its commit. Waits up to
    vars.segment_profiles.capture_lock_timeout_seconds (default 600), then fails the model.
  -#}
  {%- set settings = var('segment_profiles', {}) or {} -%}
  {%- set timeout = (settings.get('capture_lock_timeout_seconds', 600) | int) -%}
  {%- set lock_key = segment_profiles.bookkeeping_schema() ~ '.' ~ mapping_name -%}
  {%- set lock_args = "24167, hashtext('" ~ (lock_key | replace("'", "''")) ~ "') & 2147483647" -%}
  {%- set state = {'held': false} -%}
  {%- for attempt in range(timeout + 1) if not state.held -%}
    {%- if attempt > 0 -%}{% do run_query('select pg_sleep(1)') %}{%- endif -%}
    {%- set taken = run_query('select pg_try_advisory_xact_lock(' ~ lock_args ~ ')').columns[0].values()[0] -%}
    {%- if taken -%}{%- do state.update({'held': true}) -%}{%- endif -%}
  {%- endfor -%}
  {%- if not state.held -%}
    {%- set holders = run_query("select coalesce(nullif(a.application_name, ''), 'a session') || ' (pid ' || a.pid || ') since '"
        ~ " || to_char(coalesce(a.xact_start, a.backend_start) at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC'"
        ~ " from pg_locks as l join pg_stat_activity as a on a.pid = l.pid where l.locktype = 'advisory'"
        ~ " and l.granted and l.classid = 24167 and l.objid = (hashtext('" ~ (lock_key | replace("'", "''")) ~ "') & 2147483647)::oid").columns[0].values() -%}
    {{ exceptions.raise_compiler_error('segment_profiles: mapping ' ~ mapping_name
        ~ ' is being synced by ' ~ (holders | join(', ') or 'another session')
        ~ '; the capture waited ' ~ timeout ~ ' s (vars.segment_profiles.capture_lock_timeout_seconds): run `dbt run` again once that sync has ended') }}
  {%- endif -%}
{%- endmacro %}

{% macro redshift__acquire_mapping_lock(mapping_name) -%}
  {#-
    Redshift has no advisory locks (its dispatch would otherwise take postgres__): its serializable
    isolation fails one of two transactions that write the same state, so a capture and a sync
    never both commit interleaved writes; the one that fails is retried by its next run.
  -#}
  {{ return(none) }}
{%- endmacro %}

{% macro spark__acquire_mapping_lock(mapping_name) -%}
  {#-
    Spark has no locks and no transactions: nothing here keeps a sync from running during a
    capture. Run them one after the other (`dbt run`, then `dbt-segment sync`, as `dbt-segment
    run` does) and capture with one thread per mapping's state (the package's writes to
    segment_captures rewrite it whole on parquet: use `threads: 1`, or Delta/Iceberg tables).
  -#}
  {{ return(none) }}
{%- endmacro %}
