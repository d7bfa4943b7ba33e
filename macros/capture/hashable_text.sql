{% macro hashable_text(column, data_type) -%}
  {{ return(adapter.dispatch('hashable_text', 'segment_profiles')(column, data_type)) }}
{%- endmacro %}


{% macro default__hashable_text(column, data_type) -%}
  {#-
    a column as text that does not depend on the session: a zoned timestamp is read in UTC, so a
    `dbt run` under another TZ/PGTZ hashes the same instant the same way
  -#}
  {%- if segment_profiles.is_zoned_timestamp(data_type) -%}
    cast(({{ column }} at time zone 'UTC') as {{ dbt.type_string() }})
  {%- else -%}
    cast({{ column }} as {{ dbt.type_string() }})
  {%- endif -%}
{%- endmacro %}

{% macro duckdb__hashable_text(column, data_type) -%}
  {%- if segment_profiles.is_zoned_timestamp(data_type) -%}
    cast(timezone('UTC', {{ column }}) as varchar)
  {%- else -%}
    cast({{ column }} as varchar)
  {%- endif -%}
{%- endmacro %}

{% macro postgres__hashable_text(column, data_type) -%}
  {#- to_char, not a cast: a cast's text follows the session's DateStyle -#}
  {%- set kind = (data_type or '') | lower -%}
  {%- if segment_profiles.is_zoned_timestamp(data_type) -%}
    to_char({{ column }} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
  {%- elif kind.startswith('timestamp') -%}
    to_char({{ column }}, 'YYYY-MM-DD"T"HH24:MI:SS.US')
  {%- elif kind == 'date' -%}
    to_char({{ column }}, 'YYYY-MM-DD')
  {%- else -%}
    cast({{ column }} as text)
  {%- endif -%}
{%- endmacro %}
