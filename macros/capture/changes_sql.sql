{% macro changes_sql(mapping_name, relation, primary_key, columns, actual, types, unusable, doubts=true) -%}
  {{ return(adapter.dispatch('changes_sql', 'segment_profiles')(mapping_name, relation, primary_key, columns, actual, types, unusable, doubts)) }}
{%- endmacro %}

{% macro default__changes_sql(mapping_name, relation, primary_key, columns, actual, types, unusable, doubts=true) -%}
  {#-
    the model's rows with a usable key, hashed over the mapped columns, full-joined to what is
    known of each key: its acknowledged state and its latest unacknowledged attempt (in doubt).
    - added: a row whose key has no live state; updated: a row whose hash differs from the state,
      or any row of a key in doubt (what reached Segment is unknown: send what is true now);
    - deleted: a live state key, or a key in doubt that was being added or updated, with no row;
    - a duplicated key is not sent (see the invalid keys) and, matching its state, not deleted.
    doubts: false when the attempts table is empty (checked by the caller), so the state is
    joined alone instead of full-joined with an empty set first.
    change version: the state's plus one; for a key in doubt, the attempt's own version when the
    change is the same (a resend keeps its messageId), else one more.
    empty keys are dropped after the join, not before: DuckDB estimates a filtered scan at a
    fifth of its rows, and would then build the join's hash table from the model's wide rows
    instead of the state's narrow ones (a third more time at 10M rows). The state holds no empty
    key, so none joins.
  -#}
  {%- set pk = adapter.quote(primary_key) -%}
  {%- set text = segment_profiles.text_type() -%}
  {%- set state = segment_profiles.bookkeeping_relation(mapping_name, 'state') -%}
  {%- set attempts = segment_profiles.bookkeeping_relation(mapping_name, 'attempts') -%}
  with __sp_source as (
    select
      {%- for column in columns %}
      {{ adapter.quote(actual[column]) }} as {{ adapter.quote(column) }},
      {%- endfor %}
      cast({{ adapter.quote(actual[primary_key]) }} as {{ text }}) as __sp_key
    from {{ relation }}
    where {{ adapter.quote(actual[primary_key]) }} is not null
  ),
  __sp_current as (
    select s.*, {{ segment_profiles.row_hash(columns, types) }} as __sp_hash
    from __sp_source as s
  ),
  {%- if doubts %}
  __sp_doubt as (
    select t.record_key, t.row_hash, t.operation, t.change_version
    from {{ attempts }} as t
    where not exists (
      select 1 from {{ attempts }} as u
      where u.record_key = t.record_key and u.change_version > t.change_version)
  ),
  __sp_known as (
    select
      coalesce(st.record_key, d.record_key) as record_key,
      st.row_hash as state_hash,
      coalesce(st.change_version, 0) as state_version,
      d.row_hash as doubt_hash,
      d.operation as doubt_op,
      d.change_version as doubt_version
    from {{ state }} as st
    full outer join __sp_doubt as d
      on d.record_key = st.record_key
  ),
  {%- else %}
  __sp_known as (
    select
      st.record_key,
      st.row_hash as state_hash,
      coalesce(st.change_version, 0) as state_version,
      cast(null as {{ text }}) as doubt_hash,
      cast(null as {{ text }}) as doubt_op,
      cast(null as {{ dbt.type_bigint() }}) as doubt_version
    from {{ state }} as st
  ),
  {%- endif %}
  __sp_diff as (
    select
      case when c.__sp_key is null then 'deleted'
           when k.state_hash is null then 'added'
           else 'updated' end as __sp_op,
      case when c.__sp_key is null then coalesce(k.state_hash, k.doubt_hash)
           else c.__sp_hash end as __sp_hash,
      coalesce(c.__sp_key, k.record_key) as __sp_key,
      k.record_key as __sp_known_key,
      k.state_version,
      k.doubt_hash,
      k.doubt_op,
      k.doubt_version,
      {%- for column in columns %}
      {%- if column == primary_key %}
      case when c.__sp_key is null
           then cast(k.record_key as {{ types.get(primary_key) or text }})
           else c.{{ pk }} end as {{ pk }}{{ ',' if not loop.last }}
      {%- else %}
      c.{{ adapter.quote(column) }}{{ ',' if not loop.last }}
      {%- endif %}
      {%- endfor %}
    from __sp_current as c
    full outer join __sp_known as k
      on k.record_key = c.__sp_key
    where (c.__sp_key is null
           and (k.state_hash is not null or k.doubt_op in ('added', 'updated')))
       or (c.__sp_key is not null and c.__sp_key <> ''
           and (k.state_hash is null or k.state_hash <> c.__sp_hash or k.doubt_op is not null)
           and not exists (select 1 from {{ unusable }} as dup where dup.__sp_key_value = c.__sp_key))
  )
  select
    __sp_op,
    __sp_hash,
    __sp_key,
    case when doubt_version is null then coalesce(state_version, 0) + 1
         when doubt_op = __sp_op and coalesce(doubt_hash, '') = coalesce(__sp_hash, '') then doubt_version
         else doubt_version + 1 end as __sp_version,
    {%- for column in columns %}
    {{ adapter.quote(column) }}{{ ',' if not loop.last }}
    {%- endfor %}
  from __sp_diff
{%- endmacro %}
