{% macro has_rows(relation) -%}
  {{ return(adapter.dispatch('has_rows', 'segment_profiles')(relation)) }}
{%- endmacro %}

{% macro default__has_rows(relation) -%}
  {#-
    whether the table holds any row: a step with nothing to do (no acknowledgements to fold, no
    attempts in doubt) is skipped instead of joining them with the whole state. The limit lets
    the warehouse stop at the first row instead of counting them all.
  -#}
  {%- set result = run_query('select count(*) from (select 1 as x from ' ~ relation ~ ' limit 1) as __sp_any') -%}
  {{ return(result.columns[0].values()[0] | int > 0) }}
{%- endmacro %}
