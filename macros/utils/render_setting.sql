{% macro render_setting(value) -%}
  {#-
    dbt hands vars over unrendered when they are nested (vars.segment_profiles is a dict), so the
    Jinja users write there is rendered here: {{ target.<attribute> }} and {{ env_var('NAME') }}
    or {{ env_var('NAME', 'default') }}, as the runner renders them too.
  -#}
  {%- if value is not string or '{{' not in value -%}{{ return(value) }}{%- endif -%}
  {%- set text = {'value': value} -%}
  {%- for expression in modules.re.findall('\{\{[^}]*\}\}', value) -%}
    {%- set inner = expression[2:-2] | trim -%}
    {%- set target_attribute = modules.re.match('^target\.(\w+)$', inner) -%}
    {%- set env = modules.re.match('^env_var\(\s*[\'"]([^\'"]+)[\'"]\s*(?:,\s*[\'"]([^\'"]*)[\'"]\s*)?\)$', inner) -%}
    {%- if target_attribute -%}
      {%- set rendered = target[target_attribute.group(1)] -%}
    {%- elif env -%}
      {%- set rendered = env_var(env.group(1), env.group(2)) if env.group(2) is not none else env_var(env.group(1)) -%}
    {%- else -%}
      {{ exceptions.raise_compiler_error('segment_profiles: cannot render ' ~ expression ~ ' in vars.segment_profiles: use {{ target.<attribute> }} or {{ env_var(...) }} there') }}
    {%- endif -%}
    {%- do text.update({'value': text.value | replace(expression, rendered | string)}) -%}
  {%- endfor -%}
  {{ return(text.value) }}
{%- endmacro %}
