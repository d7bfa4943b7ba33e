{% macro apply_unsent_changes(state, relation, primary_key, columns, actual, send) -%}
  {{ return(adapter.dispatch('apply_unsent_changes', 'segment_profiles')(state, relation, primary_key, columns, actual, send)) }}
{%- endmacro %}

{% macro default__apply_unsent_changes(state, relation, primary_key, columns, actual, send) -%}
  {#-
    changes the mapping does not send are taken into the state at once, so they do not come back
    as pending on every run (as Segment's own Reverse ETL keeps one checksum per record).
  -#}
  {%- set pk = adapter.quote(primary_key) -%}
  {#- temp tables are per connection, but name them per mapping all the same -#}
  {%- set temp_name = '__sp_unsent_' ~ state.identifier -%}
  {%- set changes = segment_profiles.changes_cte(state, relation, primary_key, columns, actual) -%}
  {%- if 'deleted' not in send -%}
    {% do run_query(
      'delete from ' ~ state ~ ' where record_key in (' ~ changes
      ~ ' select ' ~ pk ~ ' from __sp_changes where __sp_op = \'deleted\')') %}
  {%- endif -%}
  {%- if 'updated' not in send or 'added' not in send -%}
    {%- set ops = [] -%}
    {%- if 'updated' not in send -%}{%- do ops.append("'updated'") -%}{%- endif -%}
    {%- if 'added' not in send -%}{%- do ops.append("'added'") -%}{%- endif -%}
    {%- set unsent = changes ~ ' select ' ~ pk ~ ' as k, __sp_hash as h from __sp_changes where __sp_op in (' ~ ops | join(', ') ~ ')' -%}
    {% do run_query('create temporary table ' ~ temp_name ~ ' as ' ~ unsent) %}
    {% do run_query('delete from ' ~ state ~ ' where record_key in (select k from ' ~ temp_name ~ ')') %}
    {% do run_query('insert into ' ~ state ~ ' (record_key, row_hash, synced_at) select k, h, '
        ~ dbt.current_timestamp() ~ ' from ' ~ temp_name) %}
    {% do run_query('drop table ' ~ temp_name) %}
  {%- endif -%}
{%- endmacro %}
