{#- dlt creates a column only once some row had a value for it: a nullable field that was null in
    every record loaded so far (e.g. `rejected_at` before the first rejection) is simply missing.
    `optional_column` selects the column cast to `type` when it exists, else a typed null, so the
    staging views keep one shape whatever has been loaded. -#}
{% macro relation_column_names(relation) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set names = [] -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- do names.append(column.name | lower) -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{% macro optional_column(relation_columns, name, type) -%}
    {%- if name | lower in relation_columns -%}
        cast({{ adapter.quote(name) }} as {{ type }})
    {%- else -%}
        cast(null as {{ type }})
    {%- endif -%}
{%- endmacro %}

{#- The rows of a raw table, or no rows when dlt has not created it yet (dlt creates a table with
    its first row: no offers, form submissions or email events yet means no table). `columns` is
    `relation_column_names(relation)`: empty when the table does not exist. -#}
{% macro select_source_rows(relation, columns) -%}
    {%- if columns -%}
    select * from {{ relation }}
    {%- else -%}
    select 1 as no_rows where 1 = 0
    {%- endif -%}
{%- endmacro %}
