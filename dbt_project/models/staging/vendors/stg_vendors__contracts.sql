{%- set columns = relation_column_names(source('raw_vendors', 'contracts')) -%}
with

source as (

    {{ select_source_rows(source('raw_vendors', 'contracts'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'vendor', 'varchar') }} as vendor,
        {{ optional_column(columns, 'vendor_name', 'varchar') }} as vendor_name,
        {{ optional_column(columns, 'vendor_kind', 'varchar') }} as vendor_kind,
        {{ optional_column(columns, 'contract_id', 'varchar') }} as contract_id,
        {{ optional_column(columns, 'starts_on', 'date') }} as starts_on,
        {{ optional_column(columns, 'ends_on', 'date') }} as ends_on,
        {{ optional_column(columns, 'annual_fee', 'numeric(12, 2)') }} as annual_fee,
        {{ optional_column(columns, 'credits_per_year', 'integer') }} as credits_per_year,
        {{ optional_column(columns, 'cost_per_resume', 'numeric(12, 2)') }} as cost_per_resume

    from source

)

select * from renamed
