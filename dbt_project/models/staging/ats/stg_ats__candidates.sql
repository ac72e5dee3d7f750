{%- set columns = relation_column_names(source('raw_ats', 'candidates')) -%}
with

source as (

    {{ select_source_rows(source('raw_ats', 'candidates'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'id', 'bigint') }} as candidate_id,
        {{ optional_column(columns, '_dlt_id', 'varchar') }} as candidate_row_id,
        {{ optional_column(columns, 'first_name', 'varchar') }} as first_name,
        {{ optional_column(columns, 'last_name', 'varchar') }} as last_name,
        {{ optional_column(columns, 'title', 'varchar') }} as current_title,
        {{ optional_column(columns, 'company', 'varchar') }} as current_company,
        {{ optional_column(columns, 'recruiter__id', 'bigint') }} as recruiter_user_id,
        {{ optional_column(columns, 'created_at', 'timestamp') }} as created_at,
        {{ optional_column(columns, 'updated_at', 'timestamp') }} as updated_at,
        {{ optional_column(columns, 'last_activity', 'timestamp') }} as last_activity_at,
        {{ optional_column(columns, '_dlt_load_id', 'varchar') }} as source_load_id

    from source

)

select * from renamed
