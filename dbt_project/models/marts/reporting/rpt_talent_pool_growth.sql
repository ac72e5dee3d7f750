-- Daily growth of the talent pool by source, job family and country: records first seen, people
-- new to the pool, people returning through a new record, confirmed opt-ins, and the pool size.
with

records as (

    select * from {{ ref('int_candidate_records_resolved') }}
    where person_id is not null

),

candidates as (

    select person_id, job_family, country_code from {{ ref('dim_candidates') }}

),

consent as (

    select * from {{ ref('int_candidate_consent') }}

),

ranked_records as (

    select
        person_id,
        source,
        first_seen_at,
        row_number() over (
            partition by person_id order by first_seen_at, source_priority, source, source_record_id
        ) as record_number
    from records
    where first_seen_at is not null

),

events as (

    select
        cast({{ dbt.date_trunc('day', 'ranked_records.first_seen_at') }} as date) as snapshot_date,
        ranked_records.source,
        ranked_records.person_id,
        1 as new_records,
        case when ranked_records.record_number = 1 then 1 else 0 end as new_people,
        case when ranked_records.record_number > 1 then 1 else 0 end as returning_records,
        0 as opt_ins
    from ranked_records

    union all

    select
        cast({{ dbt.date_trunc('day', 'opted_in_at') }} as date),
        'talent_network',
        person_id,
        0, 0, 0, 1
    from consent
    where opted_in_at is not null

),

daily as (

    select
        events.snapshot_date,
        events.source,
        candidates.job_family,
        candidates.country_code,
        cast(sum(events.new_records) as bigint) as new_records,
        cast(sum(events.new_people) as bigint) as new_people,
        cast(count(distinct case when events.returning_records = 1 then events.person_id end) as bigint)
            as returning_people,
        cast(sum(events.opt_ins) as bigint) as opt_ins
    from events
    left join candidates on events.person_id = candidates.person_id
    group by 1, 2, 3, 4

),

final as (

    select
        daily.*,
        cast(sum(new_people) over (
            partition by source, job_family, country_code order by snapshot_date
            rows between unbounded preceding and current row
        ) as bigint) as pool_people,
        cast(sum(new_records) over (
            partition by source, job_family, country_code order by snapshot_date
            rows between unbounded preceding and current row
        ) as bigint) as pool_records
    from daily

)

select * from final
