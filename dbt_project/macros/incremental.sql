{#- Incremental source-record models (docs/operations.md, "Incremental models"): each row carries
    `source_load_id`, the dlt load (`_dlt_load_id`) that last wrote its raw row. A daily run rebuilds
    the rows whose load this model has not seen yet, keyed by `unique_key` (delete+insert on DuckDB
    and PostgreSQL alike); every other row stays as built. Loads are matched by id, never by order, so
    a load that finishes after a later one (a retried package) is still picked up; a row without a
    load id (not loaded by dlt) is always rebuilt. -#}
{% macro unseen_load(load_id_column) -%}
    ({{ load_id_column }} is null
     or {{ load_id_column }} not in (select distinct source_load_id from {{ this }} where source_load_id is not null))
{%- endmacro %}

{#- The model config every incremental source-record model shares. A new column in the model is added
    to the table; a removed or retyped one needs `dbt build --full-refresh`. -#}
{% macro source_record_increments(unique_key) -%}
    {{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key=unique_key,
              on_schema_change='append_new_columns') }}
{%- endmacro %}
