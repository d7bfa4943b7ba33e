-- the customers as of var('demo_day'): day 2 applies seeds/customer_changes.csv
with changes as (
    select * from {{ ref('customer_changes') }}
    where day <= {{ var('demo_day') }}
),

base as (
    select id, first_name, last_name from {{ ref('raw_customers') }}
    where id not in (select id from changes where change = 'delete')
)

select
    base.id as customer_id,
    coalesce(updated.first_name, base.first_name) as first_name,
    coalesce(updated.last_name, base.last_name) as last_name
from base
left join changes as updated
    on updated.id = base.id and updated.change = 'update'

union all

select id as customer_id, first_name, last_name
from changes
where change = 'insert'
