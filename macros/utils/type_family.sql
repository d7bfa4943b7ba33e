{% macro type_family(data_type) -%}
  {#-
    what kind of value a column holds, whatever the adapter calls it (varchar, character
    varying(256), text and string are one family): keys are kept as text, so only a change of
    family can change a key's text
  -#}
  {%- set kind = modules.re.sub('\(.*\)', '', (data_type or '') | lower) | trim -%}
  {%- if kind in ('varchar', 'character varying', 'text', 'string', 'char', 'character', 'bpchar', 'nvarchar', 'nchar') -%}
    {{ return('string') }}
  {%- elif kind in ('tinyint', 'smallint', 'int', 'integer', 'int2', 'int4', 'int8', 'int64', 'bigint', 'hugeint', 'utinyint', 'usmallint', 'uinteger', 'ubigint', 'uhugeint', 'byteint') -%}
    {{ return('integer') }}
  {%- elif kind in ('decimal', 'numeric', 'number', 'bignumeric') -%}
    {{ return('decimal') }}
  {%- elif kind in ('double', 'double precision', 'float', 'float4', 'float8', 'float64', 'real') -%}
    {{ return('float') }}
  {%- elif segment_profiles.is_zoned_timestamp(kind) -%}
    {{ return('timestamptz') }}
  {%- elif kind.startswith('timestamp') or kind == 'datetime' -%}
    {{ return('timestamp') }}
  {%- endif -%}
  {{ return(kind) }}
{%- endmacro %}
