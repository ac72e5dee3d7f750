{%- set columns = relation_column_names(source('raw_ats', 'candidates__email_addresses')) -%}
with

source as (

    {{ select_source_rows(source('raw_ats', 'candidates__email_addresses'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, '_dlt_id', 'varchar') }} as candidate_email_row_id,
        {{ optional_column(columns, '_dlt_parent_id', 'varchar') }} as candidate_row_id,
        {{ optional_column(columns, '_dlt_list_idx', 'integer') }} as list_position,
        {{ optional_column(columns, 'value', 'varchar') }} as email_address,
        {{ optional_column(columns, 'type', 'varchar') }} as email_type,
        {{ optional_column(columns, 'is_valid', 'boolean') }} as is_valid_email

    from source

)

select * from renamed
