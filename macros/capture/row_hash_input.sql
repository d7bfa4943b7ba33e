{% macro row_hash_input(columns, types=none) -%}
  {#-
    the text row_hash hashes: per column 'n' for NULL or 'v<length>:<text>', joined by '|', with
    dbt's concat and length. The case, not a coalesce over the concatenation: concat() skips NULLs
    on some warehouses and not on others.
  -#}
  {%- set parts = [] -%}
  {%- for column in columns -%}
    {%- set text = segment_profiles.row_hash_text(column, types) -%}
    {%- if not loop.first -%}{%- do parts.append("'|'") -%}{%- endif -%}
    {%- do parts.append('case when ' ~ adapter.quote(column) ~ " is null then 'n' else "
        ~ dbt.concat(["'v'", 'cast(' ~ (dbt.length(text) | trim) ~ ' as ' ~ segment_profiles.text_type() ~ ')', "':'", text])
        ~ ' end') -%}
  {%- endfor -%}
  {{ return(dbt.concat(parts)) }}
{%- endmacro %}
