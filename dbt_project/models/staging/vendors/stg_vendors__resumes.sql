{%- set columns = relation_column_names(source('raw_vendors', 'resumes')) -%}
{#- Vendor fields arrive as the vendor wrote them; values that do not parse become null here
    (the raw row keeps the original) rather than failing the whole build. -#}
with

source as (

    {{ select_source_rows(source('raw_vendors', 'resumes'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'vendor', 'varchar') }} as vendor,
        {{ optional_column(columns, 'vendor_record_id', 'varchar') }} as vendor_record_id,
        {{ optional_column(columns, 'file_name', 'varchar') }} as file_name,
        {{ optional_column(columns, 'file_row', 'integer') }} as file_row,
        {{ optional_column(columns, 'first_name', 'varchar') }} as first_name,
        {{ optional_column(columns, 'last_name', 'varchar') }} as last_name,
        {{ optional_column(columns, 'email', 'varchar') }} as email,
        {{ optional_column(columns, 'phone', 'varchar') }} as phone,
        {{ optional_column(columns, 'city', 'varchar') }} as city,
        {{ optional_column(columns, 'region', 'varchar') }} as region,
        {{ optional_column(columns, 'country', 'varchar') }} as country,
        {{ optional_column(columns, 'linkedin_url', 'varchar') }} as linkedin_url,
        {{ optional_column(columns, 'current_title', 'varchar') }} as current_title,
        {{ optional_column(columns, 'current_company', 'varchar') }} as current_company,
        {{ optional_column(columns, 'skills', 'varchar') }} as skills,
        {{ dbt.safe_cast(optional_column(columns, 'years_experience', 'varchar'), 'numeric(5, 1)') }} as years_experience,
        {{ dbt.safe_cast(optional_column(columns, 'updated_at', 'varchar'), 'timestamp') }} as updated_at,
        {{ optional_column(columns, 'purchased_at', 'timestamp') }} as purchased_at,
        {{ optional_column(columns, 'cost', 'numeric(12, 2)') }} as cost,
        {{ optional_column(columns, '_dlt_load_id', 'varchar') }} as source_load_id

    from source

)

select * from renamed
