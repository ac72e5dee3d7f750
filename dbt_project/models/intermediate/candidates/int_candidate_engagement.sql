{#- Engagement score with decay (rules in the YAML): each engaging touch in the window counts its
    weight times (1 - age / window), so it fades linearly to nothing after `engagement_window_days`
    (182: a peer's "inactive after 6 months without activity"). Linear, not exponential, so the
    SQL needs no exp/power and a person with no engaging touch in the window is exactly 0. -#}
{%- set window_days = var('engagement_window_days', 182) -%}
with

people as (

    select distinct person_id
    from {{ ref('int_candidate_records_resolved') }}
    where person_id is not null

),

touches as (

    select * from {{ ref('int_candidate_touches') }}
    where engagement_weight > 0

),

aged as (

    select
        person_id,
        touched_at,
        engagement_weight,
        {{ days_between('touched_at', as_of_timestamp()) }} as age_days
    from touches

),

scored as (

    select
        person_id,
        max(touched_at) as last_engaged_at,
        sum(
            case
                when age_days >= 0 and age_days < {{ window_days }}
                    then engagement_weight * (1 - cast(age_days as numeric(10, 2)) / {{ window_days }})
                else 0
            end
        ) as raw_score,
        sum(case when age_days >= 0 and age_days < {{ window_days }} then 1 else 0 end) as touches_in_window
    from aged
    where age_days >= 0
    group by person_id

),

final as (

    select
        people.person_id,
        scored.last_engaged_at,
        cast(round(coalesce(scored.raw_score, 0), 2) as numeric(10, 2)) as engagement_score,
        cast(coalesce(scored.touches_in_window, 0) as bigint) as engaging_touches_in_window,
        case
            when coalesce(scored.raw_score, 0) >= {{ var('heat_hot_min_score', 8) }} then 'hot'
            when coalesce(scored.raw_score, 0) >= {{ var('heat_warm_min_score', 3) }} then 'warm'
            when coalesce(scored.raw_score, 0) > 0 then 'cold'
            else 'inactive'
        end as heat_band
    from people
    left join scored on people.person_id = scored.person_id

)

select * from final
