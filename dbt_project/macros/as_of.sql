{#- "Now" for decay, snapshots and retention: the `as_of` var (or WARMPOOL_AS_OF, an ISO date or
    timestamp) when given, else the warehouse's current time. The sandbox world lives in a fixed
    time window, so tests and the demo pin it; production leaves it empty. -#}
{% macro as_of_timestamp() -%}
    {%- set value = var('as_of', env_var('WARMPOOL_AS_OF', '')) -%}
    {%- if value -%}
        cast('{{ value }}' as timestamp)
    {%- else -%}
        cast({{ dbt.current_timestamp() }} as timestamp)
    {%- endif -%}
{%- endmacro %}

{#- Whole days between two timestamps (cross-database; bigint on every engine: PostgreSQL's date
    difference is an integer, DuckDB's a bigint, and the marts' contracts say bigint). -#}
{% macro days_between(start_expression, end_expression) -%}
    cast({{ dbt.datediff(start_expression, end_expression, 'day') }} as bigint)
{%- endmacro %}
