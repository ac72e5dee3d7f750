-- One row per resume bought (a file row), loaded or quarantined: what it cost, whose it was, and
-- whether the person was already in the pool when it was bought (the spend "search first" saves).
with

resumes as (

    select * from {{ ref('stg_vendors__resumes') }}

),

rejected as (

    select * from {{ ref('stg_quarantine__rejected_rows') }}

),

contracts as (

    select vendor, max(contract_id) as contract_id, max(cost_per_resume) as cost_per_resume
    from {{ ref('stg_vendors__contracts') }}
    group by vendor

),

records as (

    select * from {{ ref('int_candidate_records_resolved') }}
    where person_id is not null

),

file_dates as (

    select vendor, file_name, min(purchased_at) as purchased_at
    from resumes
    group by vendor, file_name

),

loaded as (

    select
        vendor,
        vendor_record_id,
        file_name,
        file_row,
        cast(purchased_at as timestamp) as purchased_at,
        cost,
        true as is_loaded
    from resumes

),

quarantined as (

    -- rows rejected at load were still bought: they count as spend, with no person
    select
        rejected.source as vendor,
        cast(null as varchar) as vendor_record_id,
        rejected.file_name,
        rejected.file_row,
        cast(coalesce(cast(file_dates.purchased_at as timestamp), min(rejected.quarantined_at)) as timestamp)
            as purchased_at,
        cast(null as numeric(12, 2)) as cost,
        false as is_loaded
    from rejected
    inner join contracts on rejected.source = contracts.vendor
    left join file_dates on rejected.source = file_dates.vendor and rejected.file_name = file_dates.file_name
    left join resumes
        on rejected.source = resumes.vendor
        and rejected.file_name = resumes.file_name
        and rejected.file_row = resumes.file_row
    where rejected.file_row > 0 and resumes.file_row is null
    group by rejected.source, rejected.file_name, rejected.file_row, file_dates.purchased_at

),

purchases as (

    select * from loaded
    union all
    select * from quarantined

),

with_person as (

    select
        purchases.*,
        contracts.contract_id,
        coalesce(purchases.cost, contracts.cost_per_resume) as resume_cost,
        records.person_id,
        row_number() over (
            partition by purchases.vendor, purchases.vendor_record_id
            order by purchases.purchased_at, purchases.file_name, purchases.file_row
        ) as purchase_number
    from purchases
    left join contracts on purchases.vendor = contracts.vendor
    left join records
        on records.source = purchases.vendor
        and records.source_record_id = purchases.vendor_record_id

),

already_in_pool as (

    -- another record of the same person was first seen before this purchase
    select distinct with_person.vendor, with_person.file_name, with_person.file_row
    from with_person
    inner join records
        on with_person.person_id = records.person_id
        and records.first_seen_at < with_person.purchased_at
        and not (records.source = with_person.vendor and records.source_record_id = with_person.vendor_record_id)

),

final as (

    select
        {{ dbt.hash("with_person.vendor || '|' || with_person.file_name || '|' || cast(with_person.file_row as varchar)") }}
            as purchase_id,
        with_person.vendor,
        with_person.contract_id,
        with_person.vendor_record_id,
        with_person.file_name,
        cast(with_person.file_row as bigint) as file_row,
        with_person.purchased_at,
        cast(with_person.resume_cost as numeric(12, 2)) as cost,
        with_person.is_loaded,
        with_person.person_id,
        with_person.is_loaded and with_person.purchase_number > 1 as is_repeat_purchase,
        already_in_pool.file_row is not null
            or (with_person.is_loaded and with_person.purchase_number > 1) as was_already_in_pool
    from with_person
    left join already_in_pool
        on with_person.vendor = already_in_pool.vendor
        and with_person.file_name = already_in_pool.file_name
        and with_person.file_row = already_in_pool.file_row

)

select * from final
