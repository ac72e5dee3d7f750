{#- One row per ATS application: its person, first job, stage timestamps (first entry into each
    stage of the stage history), the furthest stage reached, the outcome and hire time (entry into
    "Hired", else the accepted offer's resolution for a hired application). -#}
with

applications as (

    select * from {{ ref('stg_ats__applications') }}

),

application_jobs as (

    select * from {{ ref('stg_ats__application_jobs') }}

),

stages as (

    select * from {{ ref('stg_ats__application_stages') }}

),

jobs as (

    select * from {{ ref('stg_ats__jobs') }}

),

offers as (

    select * from {{ ref('stg_ats__offers') }}

),

assignments as (

    select * from {{ ref('stg_identity__source_record_person') }}

),

first_jobs as (

    select application_row_id, job_id, job_name
    from (
        select
            application_row_id, job_id, job_name,
            row_number() over (partition by application_row_id order by list_position) as job_rank
        from application_jobs
    ) as ranked
    where job_rank = 1

),

stage_times as (

    select
        application_row_id,
        min(case when lower(stage_name) = 'application review' then entered_at end) as review_at,
        min(case when lower(stage_name) = 'phone screen' then entered_at end) as screen_at,
        min(case when lower(stage_name) = 'interview' then entered_at end) as interview_at,
        min(case when lower(stage_name) = 'final interview' then entered_at end) as final_interview_at,
        min(case when lower(stage_name) = 'offer' then entered_at end) as offer_at,
        min(case when lower(stage_name) = 'hired' then entered_at end) as hired_stage_at,
        max(entered_at) as last_stage_entered_at
    from stages
    group by application_row_id

),

furthest_stages as (

    -- the stage an application reached last (the latest entered; list order breaks a tie)
    select application_row_id, stage_name as furthest_stage
    from (
        select
            application_row_id,
            stage_name,
            row_number() over (
                partition by application_row_id order by entered_at desc, list_position desc
            ) as stage_rank
        from stages
    ) as ranked
    where stage_rank = 1

),

accepted_offers as (

    select application_id, max(resolved_at) as offer_accepted_at
    from offers
    where status = 'accepted'
    group by application_id

),

enriched as (

    select
        applications.application_id,
        applications.application_row_id,
        assignments.person_id,
        applications.candidate_id,
        first_jobs.job_id,
        coalesce(jobs.job_name, first_jobs.job_name) as job_name,
        {{ job_family('jobs.job_family') }} as job_family,
        applications.source_id,
        applications.source_name,
        applications.credited_to_user_id,
        applications.is_prospect,
        applications.status,
        applications.current_stage_name as current_stage,
        applications.applied_at,
        applications.last_activity_at,
        stage_times.review_at,
        stage_times.screen_at,
        stage_times.interview_at,
        stage_times.final_interview_at,
        stage_times.offer_at,
        case
            when applications.status = 'hired'
                then coalesce(stage_times.hired_stage_at, accepted_offers.offer_accepted_at, applications.last_activity_at)
        end as hired_at,
        applications.rejected_at,
        applications.rejection_reason_name as rejection_reason,
        applications.rejection_reason_type,
        coalesce(furthest_stages.furthest_stage, case when applications.is_prospect then 'Prospect' end)
            as furthest_stage,
        applications.status = 'active' and not applications.is_prospect as is_in_process
    from applications
    left join first_jobs on applications.application_row_id = first_jobs.application_row_id
    left join jobs on first_jobs.job_id = jobs.job_id
    left join stage_times on applications.application_row_id = stage_times.application_row_id
    left join furthest_stages on applications.application_row_id = furthest_stages.application_row_id
    left join accepted_offers on applications.application_id = accepted_offers.application_id
    left join assignments
        on assignments.source = 'ats'
        and assignments.source_record_id = cast(applications.candidate_id as varchar)

),

final as (

    select
        enriched.*,
        case furthest_stage
            when 'Prospect' then 0
            when 'Application Review' then 1
            when 'Phone Screen' then 2
            when 'Interview' then 3
            when 'Final Interview' then 4
            when 'Offer' then 5
            when 'Hired' then 6
        end as furthest_stage_rank,
        case
            when status = 'hired' then 'hired'
            when status = 'rejected' and rejection_reason_type = 'They rejected us' then 'withdrew'
            when status = 'rejected' then 'rejected'
            when status = 'converted' then 'converted'
            when is_prospect then 'prospect'
            else 'in_process'
        end as outcome,
        -- a silver medal: turned away (either side) after reaching the final interview or the offer
        status = 'rejected' and furthest_stage in ('Final Interview', 'Offer') as is_silver_medal_application
    from enriched

)

select * from final
