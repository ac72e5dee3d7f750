-- Silver medalists (rules in the YAML): people who reached the final interview or the offer, were
-- turned away (either side) and were never hired; with their best application and reachability.
with

applications as (

    select * from {{ ref('int_applications_enriched') }}
    where person_id is not null

),

hires as (

    select distinct person_id from {{ ref('int_hires') }} where person_id is not null

),

candidates as (

    select * from {{ ref('int_candidates_golden') }}

),

contactability as (

    select * from {{ ref('int_candidate_contactability') }}

),

engagement as (

    select * from {{ ref('int_candidate_engagement') }}

),

silver_applications as (

    select
        applications.*,
        row_number() over (
            partition by applications.person_id
            order by applications.furthest_stage_rank desc, applications.rejected_at desc, applications.application_id desc
        ) as application_rank,
        count(*) over (partition by applications.person_id) as silver_application_count
    from applications
    left join hires on applications.person_id = hires.person_id
    where applications.is_silver_medal_application
        and hires.person_id is null

),

final as (

    select
        silver_applications.person_id,
        candidates.first_name,
        candidates.last_name,
        candidates.job_family,
        silver_applications.application_id,
        silver_applications.job_id,
        silver_applications.job_name,
        silver_applications.job_family as application_job_family,
        silver_applications.furthest_stage,
        silver_applications.rejected_at,
        silver_applications.rejection_reason,
        silver_applications.rejection_reason_type,
        cast(silver_applications.silver_application_count as bigint) as silver_application_count,
        engagement.heat_band,
        contactability.is_contactable
    from silver_applications
    inner join candidates on silver_applications.person_id = candidates.person_id
    left join contactability on silver_applications.person_id = contactability.person_id
    left join engagement on silver_applications.person_id = engagement.person_id
    where silver_applications.application_rank = 1

)

select * from final
