-- Every source record with its person: nothing a merge touches is ever lost.
with

records as (

    select * from {{ ref('int_candidate_records_resolved') }}

),

vendor_resumes as (

    select * from {{ ref('int_vendor_resumes_deduplicated') }}

),

final as (

    select
        records.person_id,
        records.source,
        records.source_record_id,
        records.source_family,
        records.first_name,
        records.last_name,
        records.email,
        records.city,
        records.country,
        records.current_title,
        records.current_company,
        records.first_seen_at,
        records.updated_at,
        records.last_activity_at,
        cast(coalesce(vendor_resumes.times_purchased, 0) as bigint) as times_purchased
    from records
    left join vendor_resumes
        on records.source_family = 'vendor'
        and records.source = vendor_resumes.vendor
        and records.source_record_id = vendor_resumes.vendor_record_id

)

select * from final
