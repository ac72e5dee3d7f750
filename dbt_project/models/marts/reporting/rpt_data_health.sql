-- Per source: how fresh it is (newest record first seen, last record activity), its records and
-- people in the pool, and the rows quarantined at the boundary; one row per source that has records
-- or quarantined rows. Identity figures (records, people, merges, review queue, model version) are
-- in rpt_identity_runs.
with

records as (

    select * from {{ ref('int_candidate_records_resolved') }}

),

quarantined as (

    select * from {{ ref('stg_quarantine__rejected_rows') }}

),

record_counts as (

    select
        source,
        cast(count(*) as bigint) as records,
        cast(count(distinct person_id) as bigint) as people,
        max(first_seen_at) as newest_record_at,
        max(last_activity_at) as last_activity_at
    from records
    group by 1

),

quarantine_counts as (

    select
        coalesce(source, '(unknown)') as source,
        cast(count(*) as bigint) as quarantined_rows,
        max(quarantined_at) as last_quarantined_at
    from quarantined
    group by 1

),

final as (

    select
        coalesce(record_counts.source, quarantine_counts.source) as source,
        coalesce(record_counts.records, 0) as records,
        coalesce(record_counts.people, 0) as people,
        record_counts.newest_record_at,
        record_counts.last_activity_at,
        coalesce(quarantine_counts.quarantined_rows, 0) as quarantined_rows,
        quarantine_counts.last_quarantined_at
    from record_counts
    full outer join quarantine_counts on record_counts.source = quarantine_counts.source

)

select * from final
