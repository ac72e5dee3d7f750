{#- THE input of identity resolution: exactly the resolve-contract columns, all text
    (docs/data-contracts.md section 4), so the pipeline and `warmpool resolve` match the same way. -#}
with

records as (

    select * from {{ ref('int_source_records_unioned') }}

),

contract_columns as (

    select
        cast(source as varchar) as source,
        cast(source_record_id as varchar) as source_record_id,
        first_name,
        last_name,
        email,
        phone,
        city,
        region,
        country,
        linkedin_url,
        current_title,
        current_company,
        skills,
        {{ number_to_text('years_experience') }} as years_experience,
        {{ to_iso_text('updated_at') }} as updated_at
    from records

)

select * from contract_columns
