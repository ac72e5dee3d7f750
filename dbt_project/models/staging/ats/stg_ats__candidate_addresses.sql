{%- set columns = relation_column_names(source('raw_ats', 'candidates__addresses')) -%}
with

source as (

    {{ select_source_rows(source('raw_ats', 'candidates__addresses'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, '_dlt_id', 'varchar') }} as candidate_address_row_id,
        {{ optional_column(columns, '_dlt_parent_id', 'varchar') }} as candidate_row_id,
        {{ optional_column(columns, '_dlt_list_idx', 'integer') }} as list_position,
        {{ optional_column(columns, 'value', 'varchar') }} as address,
        {{ optional_column(columns, 'type', 'varchar') }} as address_type

    from source

)

select * from renamed
