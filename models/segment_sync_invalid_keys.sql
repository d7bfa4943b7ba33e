{{ config(materialized='view') }}
-- rows of mapped models that cannot be sent because their key is NULL or duplicated
{%- set mappings = segment_profiles.segment_mappings() %}
{%- if mappings %}
{%- for item in mappings %}
select
    '{{ item.mapping.name }}' as mapping_name,
    '{{ item.node.name }}' as model_name,
    record_key,
    reason,
    row_count,
    captured_at
from {{ segment_profiles.bookkeeping_relation(item.mapping.name, 'invalid') }}
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{%- else %}
select
    cast(null as {{ dbt.type_string() }}) as mapping_name,
    cast(null as {{ dbt.type_string() }}) as model_name,
    cast(null as {{ dbt.type_string() }}) as record_key,
    cast(null as {{ dbt.type_string() }}) as reason,
    cast(null as {{ dbt.type_bigint() }}) as row_count,
    cast(null as {{ dbt.type_timestamp() }}) as captured_at
where 1 = 0
{%- endif %}
