{{ config(materialized='view') }}
-- one row per mapping and `dbt-segment sync`: counts of what was pending, sent, acknowledged,
-- rejected and failed
select * from {{ segment_profiles.bookkeeping_relation_named('segment_runs') }}
