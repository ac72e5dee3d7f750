{#- One row per vendor record (vendor, vendor_record_id): the latest purchase's fields, with how
    often and for how much the same resume was bought. -#}
with

resumes as (

    select * from {{ ref('stg_vendors__resumes') }}

),

ranked as (

    select
        resumes.*,
        row_number() over (
            partition by vendor, vendor_record_id
            order by purchased_at desc nulls last, file_name desc, file_row desc
        ) as purchase_rank,
        count(*) over (partition by vendor, vendor_record_id) as times_purchased,
        min(purchased_at) over (partition by vendor, vendor_record_id) as first_purchased_at,
        sum(cost) over (partition by vendor, vendor_record_id) as total_cost
    from resumes

),

deduplicated as (

    select
        vendor,
        vendor_record_id,
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
        years_experience,
        coalesce(updated_at, purchased_at) as updated_at,
        first_purchased_at,
        purchased_at as last_purchased_at,
        times_purchased,
        total_cost
    from ranked
    where purchase_rank = 1

)

select * from deduplicated
