{{ config(materialized='view') }}
-- one row per mapping and `dbt-segment sync`: counts of what was pending, sent, acknowledged,
-- rejected and failed
{%- if segment_profiles.segment_mappings() %}
select * from {{ segment_profiles.bookkeeping_relation_named('segment_runs') }}
{%- else %}
-- no mapping in the project, so no bookkeeping (nothing is created for it): no rows
select
    cast(null as {{ dbt.type_string() }}) as run_id,
    cast(null as {{ dbt.type_string() }}) as mapping_name,
    cast(null as {{ dbt.type_string() }}) as profile_space,
    cast(null as {{ dbt.type_timestamp() }}) as started_at,
    cast(null as {{ dbt.type_timestamp() }}) as ended_at,
    cast(null as {{ dbt.type_string() }}) as status,
    cast(null as {{ dbt.type_bigint() }}) as added,
    cast(null as {{ dbt.type_bigint() }}) as updated,
    cast(null as {{ dbt.type_bigint() }}) as deleted,
    cast(null as {{ dbt.type_bigint() }}) as sent,
    cast(null as {{ dbt.type_bigint() }}) as acknowledged,
    cast(null as {{ dbt.type_bigint() }}) as rejected,
    cast(null as {{ dbt.type_bigint() }}) as failed,
    cast(null as {{ dbt.type_bigint() }}) as invalid_keys
where 1 = 0
{%- endif %}
