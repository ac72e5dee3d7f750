-- The people funnel pool -> contacted -> engaged -> applied -> interviewed -> offered -> hired, by
-- the month the person entered the pool, their job family, country, heat band and the source they came from first.
-- Each step counts the people who got at least that far (definitions in the model's YAML), so a
-- step is always a subset of the one before it.
with

candidates as (

    select * from {{ ref('dim_candidates') }}

),

records as (

    select * from {{ ref('int_candidate_records_resolved') }}
    where person_id is not null

),

touches as (

    select * from {{ ref('int_candidate_touches') }}

),

applications as (

    select * from {{ ref('int_applications_enriched') }}
    where person_id is not null

),

hires as (

    select distinct person_id from {{ ref('int_hires') }} where person_id is not null

),

first_sources as (

    select person_id, source as first_source
    from (
        select
            person_id,
            source,
            row_number() over (
                partition by person_id order by first_seen_at, source_priority, source, source_record_id
            ) as record_number
        from records
    ) as ranked
    where record_number = 1

),

touch_flags as (

    select
        person_id,
        max(case when touch_type in ('email_delivered', 'email_opened', 'email_clicked', 'prospect_added')
            then 1 else 0 end) as was_contacted,
        max(case when engagement_weight > 0 then 1 else 0 end) as was_engaged
    from touches
    group by person_id

),

application_flags as (

    select
        person_id,
        max(case when not is_prospect then 1 else 0 end) as has_applied,
        max(case when furthest_stage_rank >= 3 then 1 else 0 end) as was_interviewed,
        max(case when furthest_stage_rank >= 5 then 1 else 0 end) as was_offered
    from applications
    group by person_id

),

people as (

    select
        cast({{ dbt.date_trunc('month', 'candidates.first_seen_at') }} as date) as cohort_month,
        candidates.job_family,
        candidates.country_code,
        candidates.heat_band,
        coalesce(first_sources.first_source, 'unknown') as first_source,
        candidates.person_id,
        coalesce(touch_flags.was_contacted, 0) as was_contacted,
        coalesce(touch_flags.was_engaged, 0) as was_engaged,
        coalesce(application_flags.has_applied, 0) as has_applied,
        coalesce(application_flags.was_interviewed, 0) as was_interviewed,
        coalesce(application_flags.was_offered, 0) as was_offered,
        case when hires.person_id is not null then 1 else 0 end as was_hired
    from candidates
    left join first_sources on candidates.person_id = first_sources.person_id
    left join touch_flags on candidates.person_id = touch_flags.person_id
    left join application_flags on candidates.person_id = application_flags.person_id
    left join hires on candidates.person_id = hires.person_id

),

reached as (

    -- the furthest step each person reached: reaching a step means having passed every step before it
    select
        *,
        case
            when was_hired = 1 then 6
            when was_offered = 1 then 5
            when was_interviewed = 1 then 4
            when has_applied = 1 then 3
            when was_engaged = 1 then 2
            when was_contacted = 1 then 1
            else 0
        end as furthest_step
    from people

),

final as (

    select
        cohort_month,
        job_family,
        country_code,
        heat_band,
        first_source,
        cast(count(*) as bigint) as pool_people,
        cast(sum(case when furthest_step >= 1 then 1 else 0 end) as bigint) as contacted_people,
        cast(sum(case when furthest_step >= 2 then 1 else 0 end) as bigint) as engaged_people,
        cast(sum(case when furthest_step >= 3 then 1 else 0 end) as bigint) as applied_people,
        cast(sum(case when furthest_step >= 4 then 1 else 0 end) as bigint) as interviewed_people,
        cast(sum(case when furthest_step >= 5 then 1 else 0 end) as bigint) as offered_people,
        cast(sum(case when furthest_step >= 6 then 1 else 0 end) as bigint) as hired_people
    from reached
    group by 1, 2, 3, 4, 5

)

select * from final
