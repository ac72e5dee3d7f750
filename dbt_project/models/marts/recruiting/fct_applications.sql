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
        last_activity_at
    from applications

)

select * from final
