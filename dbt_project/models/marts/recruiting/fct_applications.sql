{%- set stage_columns = ['hired_at', 'offer_at', 'final_interview_at', 'interview_at', 'screen_at', 'review_at'] -%}
with

applications as (

    select * from {{ ref('int_applications_enriched') }}

),

final as (

    select
        application_id,
        person_id,
        candidate_id,
        job_id,
        job_name,
        job_family,
        source_id,
        source_name,
        credited_to_user_id,
        is_prospect,
        status,
        current_stage,
        applied_at,
        review_at,
        screen_at,
        interview_at,
        final_interview_at,
        offer_at,
        hired_at,
        rejected_at,
        rejection_reason,
        last_activity_at,
        rejection_reason_type,
        furthest_stage,
        furthest_stage_rank,
        outcome,
        is_silver_medal_application,
        case when hired_at is not null then {{ days_between('applied_at', 'hired_at') }} end as days_to_hire,
        {{ days_between('applied_at', 'coalesce(hired_at, rejected_at, ' ~ as_of_timestamp() ~ ')') }} as days_in_process,
        {{ days_between('coalesce(' ~ stage_columns | join(', ') ~ ', applied_at)',
                        'coalesce(hired_at, rejected_at, ' ~ as_of_timestamp() ~ ')') }} as days_in_current_stage
    from applications

)

select * from final
