{{ config(materialized='view') }}
-- rows that are still pending because Segment (or the checks before sending) refused them
select * from {{ segment_profiles.bookkeeping_relation_named('segment_record_issues') }}
