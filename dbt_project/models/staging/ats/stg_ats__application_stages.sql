{%- set columns = relation_column_names(source('raw_ats', 'applications__stage_history')) -%}
with

source as (

    {{ select_source_rows(source('raw_ats', 'applications__stage_history'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, '_dlt_id', 'varchar') }} as application_stage_row_id,
        {{ optional_column(columns, '_dlt_parent_id', 'varchar') }} as application_row_id,
        {{ optional_column(columns, '_dlt_list_idx', 'integer') }} as list_position,
        {{ optional_column(columns, 'stage_id', 'bigint') }} as stage_id,
        {{ optional_column(columns, 'stage_name', 'varchar') }} as stage_name,
        {{ optional_column(columns, 'entered_at', 'timestamp') }} as entered_at,
        {{ optional_column(columns, 'exited_at', 'timestamp') }} as exited_at

    from source

)

select * from renamed
