{%- set columns = relation_column_names(source('quarantine', 'rejected_rows')) -%}
with

source as (

    {{ select_source_rows(source('quarantine', 'rejected_rows'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'source', 'varchar') }} as source,
        {{ optional_column(columns, 'file_name', 'varchar') }} as file_name,
        {{ optional_column(columns, 'row_number', 'integer') }} as file_row,
        {{ optional_column(columns, 'field', 'varchar') }} as field,
        {{ optional_column(columns, 'reason', 'varchar') }} as reason,
        {{ optional_column(columns, 'quarantined_at', 'timestamp') }} as quarantined_at

    from source

)

select * from renamed
