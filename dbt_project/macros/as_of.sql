{#- "Now" for decay, snapshots and retention: the run's clock (warmpool_run.clock, one row the run
    writes before calling dbt: warmpool/dbt_cli.py set_run_clock, from the run's as_of or
    WARMPOOL_AS_OF), else the warehouse's current time. Not a var: dbt parses the whole project again
    whenever its vars change, so a pinned day would cost each day's first call a full parse. The `as_of`
    var still overrides it for a hand-run `dbt build --vars` and the unit tests. The sandbox world lives
    in a fixed time window, so tests and the demo pin the day; production leaves it empty. -#}
{% macro as_of_timestamp() -%}
    {%- set value = var('as_of', '') -%}
    {%- if value -%}
        cast('{{ value }}' as timestamp)
    {%- else -%}
        coalesce((select max(as_of) from {{ source('warmpool_run', 'clock') }}),
                 cast({{ dbt.current_timestamp() }} as timestamp))
    {%- endif -%}
{%- endmacro %}

{#- Whole days between two timestamps (cross-database; bigint on every engine: PostgreSQL's date
    difference is an integer, DuckDB's a bigint, and the marts' contracts say bigint). -#}
{% macro days_between(start_expression, end_expression) -%}
    cast({{ dbt.datediff(start_expression, end_expression, 'day') }} as bigint)
{%- endmacro %}
