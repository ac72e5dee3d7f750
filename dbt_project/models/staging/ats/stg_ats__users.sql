{%- set columns = relation_column_names(source('raw_ats', 'users')) -%}
with

source as (

    {{ select_source_rows(source('raw_ats', 'users'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'id', 'bigint') }} as user_id,
        {{ optional_column(columns, 'name', 'varchar') }} as full_name,
        {{ optional_column(columns, 'first_name', 'varchar') }} as first_name,
        {{ optional_column(columns, 'last_name', 'varchar') }} as last_name,
        {{ optional_column(columns, 'primary_email_address', 'varchar') }} as email_address,
        {{ optional_column(columns, 'employee_id', 'varchar') }} as employee_id,
        coalesce({{ optional_column(columns, 'disabled', 'boolean') }}, false) as is_disabled,
        coalesce({{ optional_column(columns, 'site_admin', 'boolean') }}, false) as is_site_admin,
        {{ optional_column(columns, 'created_at', 'timestamp') }} as created_at,
        {{ optional_column(columns, 'updated_at', 'timestamp') }} as updated_at

    from source

)

select * from renamed
