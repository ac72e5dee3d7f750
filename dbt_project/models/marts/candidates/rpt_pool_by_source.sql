with

records as (

    select * from {{ ref('int_candidate_records_resolved') }}

),

candidates as (

    select * from {{ ref('dim_candidates') }}

),

contracts as (

    select * from {{ ref('stg_vendors__contracts') }}

),

vendor_kinds as (

    select vendor, max(vendor_kind) as vendor_kind
    from contracts
    group by vendor

),

by_source as (

    select
        records.source,
        records.source_family,
        count(*) as record_count,
        count(distinct records.person_id) as person_count,
        count(distinct case when candidates.source_count = 1 then records.person_id end) as only_here_person_count,
        count(distinct case when candidates.is_contactable then records.person_id end) as contactable_person_count,
        min(records.first_seen_at) as first_seen_at,
        max(records.first_seen_at) as last_seen_at
    from records
    left join candidates on records.person_id = candidates.person_id
    group by records.source, records.source_family

),

final as (

    select
        by_source.source,
        case
            when by_source.source_family = 'vendor' then coalesce(vendor_kinds.vendor_kind, 'vendor')
            when by_source.source_family = 'form' then by_source.source
            else 'ats'
        end as source_kind,
        by_source.record_count,
        by_source.person_count,
        by_source.only_here_person_count,
        by_source.person_count - by_source.only_here_person_count as shared_person_count,
        by_source.contactable_person_count,
        by_source.first_seen_at,
        by_source.last_seen_at
    from by_source
    left join vendor_kinds on by_source.source = vendor_kinds.vendor

)

select * from final
