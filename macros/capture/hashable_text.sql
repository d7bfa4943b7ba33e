{% macro hashable_text(column, data_type) -%}
  {{ return(adapter.dispatch('hashable_text', 'segment_profiles')(column, data_type)) }}
{%- endmacro %}


{% macro default__hashable_text(column, data_type) -%}
  {#-
    a column as text that does not depend on the session: a zoned timestamp is read in UTC, so a
    `dbt run` under another TZ/PGTZ hashes the same instant the same way
  -#}
  {%- if segment_profiles.is_zoned_timestamp(data_type) -%}
    cast(({{ column }} at time zone 'UTC') as {{ segment_profiles.text_type() }})
  {%- else -%}
    cast({{ column }} as {{ segment_profiles.text_type() }})
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

{% macro redshift__hashable_text(column, data_type) -%}
  {#- as on Postgres (to_char: a cast follows DateStyle), with convert_timezone for zoned timestamps -#}
  {%- set kind = (data_type or '') | lower -%}
  {%- if segment_profiles.is_zoned_timestamp(data_type) -%}
    to_char(convert_timezone('UTC', {{ column }}), 'YYYY-MM-DD HH24:MI:SS.US')
  {%- elif kind.startswith('timestamp') -%}
    to_char({{ column }}, 'YYYY-MM-DD HH24:MI:SS.US')
  {%- elif kind == 'date' -%}
    to_char({{ column }}, 'YYYY-MM-DD')
  {%- else -%}
    cast({{ column }} as {{ segment_profiles.text_type() }})
  {%- endif -%}
{%- endmacro %}

{% macro snowflake__hashable_text(column, data_type) -%}
  {#-
    no `at time zone` in Snowflake, and a cast of a timestamp or date to text follows the
    session's *_OUTPUT_FORMAT parameters: to_char with a fixed format, zoned values in UTC
  -#}
  {%- set kind = (data_type or '') | lower -%}
  {%- if segment_profiles.is_zoned_timestamp(data_type) -%}
    to_char(cast(convert_timezone('UTC', {{ column }}) as timestamp_ntz), 'YYYY-MM-DD HH24:MI:SS.FF6')
  {%- elif kind.startswith('timestamp') or kind == 'datetime' -%}
    to_char({{ column }}, 'YYYY-MM-DD HH24:MI:SS.FF6')
  {%- elif kind == 'date' -%}
    to_char({{ column }}, 'YYYY-MM-DD')
  {%- else -%}
    cast({{ column }} as varchar)
  {%- endif -%}
{%- endmacro %}

{% macro bigquery__hashable_text(column, data_type) -%}
  {#-
    a BigQuery TIMESTAMP is an instant, whose cast to text follows @@time_zone: formatted in UTC.
    DATETIME and DATE have no zone, their casts are fixed.
  -#}
  {%- set kind = (data_type or '') | lower -%}
  {%- if kind == 'timestamp' or segment_profiles.is_zoned_timestamp(data_type) -%}
    format_timestamp('%Y-%m-%dT%H:%M:%E6S', {{ column }}, 'UTC')
  {%- else -%}
    cast({{ column }} as string)
  {%- endif -%}
{%- endmacro %}

{% macro spark__hashable_text(column, data_type) -%}
  {#-
    a Spark TIMESTAMP (TIMESTAMP_LTZ) is an instant shown in spark.sql.session.timeZone: shifted
    so that the session's zone shows its UTC wall time, then formatted. TIMESTAMP_NTZ has no
    zone. No `'T'` in the pattern: Spark joins adjacent string literals instead of reading ''.
  -#}
  {%- set kind = (data_type or '') | lower -%}
  {%- if kind in ('timestamp', 'timestamp_ltz') or segment_profiles.is_zoned_timestamp(data_type) -%}
    date_format(to_utc_timestamp({{ column }}, current_timezone()), 'yyyy-MM-dd HH:mm:ss.SSSSSS')
  {%- elif kind == 'timestamp_ntz' -%}
    date_format({{ column }}, 'yyyy-MM-dd HH:mm:ss.SSSSSS')
  {%- else -%}
    cast({{ column }} as string)
  {%- endif -%}
{%- endmacro %}
