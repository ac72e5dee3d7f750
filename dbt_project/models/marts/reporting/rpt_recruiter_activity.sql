-- Per recruiter and month: prospects added, sourced applications, stage moves, offers and hires on
-- the applications credited to them.
with

recruiters as (

    select * from {{ ref('dim_recruiters') }}

),

outreach as (

    select * from {{ ref('fct_outreach') }}
    where recruiter_user_id is not null

),

transitions as (

    select * from {{ ref('fct_stage_transitions') }}
    where credited_to_user_id is not null

),

hires as (

    select * from {{ ref('fct_hires') }}
    where credited_to_user_id is not null

),

activity as (

    select recruiter_user_id as user_id, sent_at as activity_at,
        case when outreach_type = 'prospect_added' then 1 else 0 end as prospects_added,
        case when outreach_type = 'sourced_application' then 1 else 0 end as sourced_applications,
        0 as stage_moves, 0 as offers, 0 as hires
    from outreach

    union all

    select credited_to_user_id, entered_at, 0, 0,
        case when stage_number > 1 then 1 else 0 end,
        case when lower(to_stage) = 'offer' then 1 else 0 end,
        0
    from transitions

    union all

    select credited_to_user_id, hired_at, 0, 0, 0, 0, 1
    from hires

),

final as (

    select
        activity.user_id,
        recruiters.full_name,
        cast({{ dbt.date_trunc('month', 'activity.activity_at') }} as date) as period_month,
        cast(sum(activity.prospects_added) as bigint) as prospects_added,
        cast(sum(activity.sourced_applications) as bigint) as sourced_applications,
        cast(sum(activity.stage_moves) as bigint) as stage_moves,
        cast(sum(activity.offers) as bigint) as offers,
        cast(sum(activity.hires) as bigint) as hires
    from activity
    left join recruiters on activity.user_id = recruiters.user_id
    where activity.activity_at is not null
    group by 1, 2, 3

)

select * from final
