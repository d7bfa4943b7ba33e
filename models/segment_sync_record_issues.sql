{{ config(materialized='view') }}
-- rows that are still pending because Segment (or the checks before sending) refused them
{%- if segment_profiles.segment_mappings() %}
select * from {{ segment_profiles.bookkeeping_relation_named('segment_record_issues') }}
{%- else %}
-- no mapping in the project, so no bookkeeping (nothing is created for it): no rows
select
    cast(null as {{ dbt.type_string() }}) as mapping_name,
    cast(null as {{ dbt.type_string() }}) as record_key,
    cast(null as {{ dbt.type_string() }}) as operation,
    cast(null as {{ dbt.type_string() }}) as kind,
    cast(null as {{ dbt.type_string() }}) as reason,
    cast(null as {{ dbt.type_timestamp() }}) as first_seen,
    cast(null as {{ dbt.type_timestamp() }}) as last_seen,
    cast(null as {{ dbt.type_bigint() }}) as attempts
where 1 = 0
{%- endif %}
