{%- set columns = relation_column_names(source('raw_ats', 'applications__jobs')) -%}
with

source as (

    {{ select_source_rows(source('raw_ats', 'applications__jobs'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, '_dlt_id', 'varchar') }} as application_job_row_id,
        {{ optional_column(columns, '_dlt_parent_id', 'varchar') }} as application_row_id,
        {{ optional_column(columns, '_dlt_list_idx', 'integer') }} as list_position,
        {{ optional_column(columns, 'id', 'bigint') }} as job_id,
        {{ optional_column(columns, 'name', 'varchar') }} as job_name

    from source

)

select * from renamed
