{%- set columns = relation_column_names(source('raw_ats', 'jobs')) -%}
with

source as (

    {{ select_source_rows(source('raw_ats', 'jobs'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'id', 'bigint') }} as job_id,
        {{ optional_column(columns, 'name', 'varchar') }} as job_name,
        {{ optional_column(columns, 'requisition_id', 'varchar') }} as requisition_id,
        {{ optional_column(columns, 'status', 'varchar') }} as status,
        {{ optional_column(columns, 'notes', 'varchar') }} as job_description,
        {{ optional_column(columns, 'custom_fields__job_family', 'varchar') }} as job_family,
        {{ optional_column(columns, 'custom_fields__seniority', 'varchar') }} as seniority,
        {{ optional_column(columns, 'custom_fields__employment_type', 'varchar') }} as employment_type,
        {{ optional_column(columns, 'created_at', 'timestamp') }} as created_at,
        {{ optional_column(columns, 'opened_at', 'timestamp') }} as opened_at,
        {{ optional_column(columns, 'closed_at', 'timestamp') }} as closed_at,
        {{ optional_column(columns, 'updated_at', 'timestamp') }} as updated_at

    from source

)

select * from renamed
