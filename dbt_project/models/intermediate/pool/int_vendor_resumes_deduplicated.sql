{#- One row per vendor record (vendor, vendor_record_id): the latest purchase's fields, with how
    often and for how much the same resume was bought. Incremental (macros/incremental.sql): a daily
    run recomputes the vendor records bought again or for the first time in the day's files, over
    every purchase of each. -#}
{{ source_record_increments(['vendor', 'vendor_record_id']) }}
with

purchases as (

    select * from {{ ref('stg_vendors__resumes') }}

),

{%- if is_incremental() %}

bought_again as (

    select distinct vendor, vendor_record_id
    from purchases
    where {{ unseen_load('source_load_id') }}

),

resumes as (

    select purchases.*
    from purchases
    inner join bought_again
        on purchases.vendor = bought_again.vendor
        and purchases.vendor_record_id = bought_again.vendor_record_id

),
{%- else %}

resumes as (

    select * from purchases

),
{%- endif %}

ranked as (

    select
        resumes.*,
        row_number() over (
            partition by vendor, vendor_record_id
            order by purchased_at desc nulls last, file_name desc, file_row desc
        ) as purchase_rank,
        count(*) over (partition by vendor, vendor_record_id) as times_purchased,
        min(purchased_at) over (partition by vendor, vendor_record_id) as first_purchased_at,
        sum(cost) over (partition by vendor, vendor_record_id) as total_cost,
        -- the newest purchase's load: the vendor pipeline finishes its loads in order, a retried one first
        max(source_load_id) over (partition by vendor, vendor_record_id) as last_load_id
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
        total_cost,
        last_load_id as source_load_id
    from ranked
    where purchase_rank = 1

)

select * from deduplicated
