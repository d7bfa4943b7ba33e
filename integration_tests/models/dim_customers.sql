with customers as (
    select * from {{ ref('stg_customers') }}
),

orders as (
    select * from {{ ref('raw_orders') }}
),

payments as (
    select * from {{ ref('raw_payments') }}
),

customer_orders as (
    select
        user_id as customer_id,
        min(order_date) as first_order,
        max(order_date) as most_recent_order,
        count(id) as number_of_orders
    from orders
    group by user_id
),

customer_payments as (
    select
        orders.user_id as customer_id,
        sum(payments.amount) / 100.0 as lifetime_value
    from payments
    inner join orders on orders.id = payments.order_id
    group by orders.user_id
)

select
    customers.customer_id,
    'user-' || cast(customers.customer_id as {{ dbt.type_string() }}) as user_id,
    customers.first_name,
    customers.last_name,
    lower(customers.first_name) || '.' || lower(replace(customers.last_name, '.', ''))
        || '@example.com' as email,
    customer_orders.first_order,
    customer_orders.most_recent_order,
    coalesce(customer_orders.number_of_orders, 0) as number_of_orders,
    coalesce(customer_payments.lifetime_value, 0) as lifetime_value
from customers
left join customer_orders on customer_orders.customer_id = customers.customer_id
left join customer_payments on customer_payments.customer_id = customers.customer_id
