{%- set columns = relation_column_names(source('raw_ats', 'candidates__employments')) -%}
with

source as (

    {{ select_source_rows(source('raw_ats', 'candidates__employments'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, '_dlt_id', 'varchar') }} as candidate_employment_row_id,
        {{ optional_column(columns, '_dlt_parent_id', 'varchar') }} as candidate_row_id,
        {{ optional_column(columns, '_dlt_list_idx', 'integer') }} as list_position,
        {{ optional_column(columns, 'company_name', 'varchar') }} as company_name,
        {{ optional_column(columns, 'title', 'varchar') }} as title,
        {{ dbt.safe_cast(optional_column(columns, 'start_date', 'varchar'), 'date') }} as started_on,
        {{ dbt.safe_cast(optional_column(columns, 'end_date', 'varchar'), 'date') }} as ended_on

    from source

)

select * from renamed
