{#- One row per referral: a referral-form submission (the referrer is named only there: the ATS's
    referral source credits the recruiter, not the employee), the person identity resolution assigned
    it to, and what became of that person afterwards: applications made on or after the day of the
    referral (prospect records are not applications), interviews and hires among them. -#}
with

submissions as (

    select * from {{ ref('stg_forms__submissions') }}
    where form_name = 'referral'

),

records as (

    select * from {{ ref('int_candidate_records_resolved') }}
    where source = 'referral'

),

applications as (

    select * from {{ ref('fct_applications') }}
    where not is_prospect

),

referrals as (

    select
        submissions.submission_id,
        records.person_id,
        submissions.submitted_at as referred_at,
        lower(trim({{ nullif_blank('submissions.referrer_email') }})) as referrer_email,
        trim({{ nullif_blank('submissions.referrer_name') }}) as referrer_name,
        {{ nullif_blank('submissions.referrer_relationship') }} as referrer_relationship
    from submissions
    inner join records
        on records.source_record_id = cast(submissions.submission_id as varchar)

),

outcomes as (

    select
        referrals.submission_id,
        count(applications.application_id) as applications,
        max(case when applications.interview_at is not null then 1 else 0 end) as was_interviewed,
        min(applications.hired_at) as hired_at
    from referrals
    inner join applications
        on applications.person_id = referrals.person_id
        and applications.applied_at >= cast({{ dbt.date_trunc('day', 'referrals.referred_at') }} as date)
    group by referrals.submission_id

),

final as (

    select
        referrals.submission_id,
        referrals.person_id,
        referrals.referred_at,
        referrals.referrer_email,
        referrals.referrer_name,
        referrals.referrer_relationship,
        coalesce(outcomes.applications, 0) > 0 as has_applied,
        coalesce(outcomes.was_interviewed, 0) = 1 as was_interviewed,
        outcomes.hired_at,
        case when outcomes.hired_at is not null
             then {{ dbt.datediff('referrals.referred_at', 'outcomes.hired_at', 'day') }} end as days_to_hire
    from referrals
    left join outcomes on outcomes.submission_id = referrals.submission_id

)

select * from final
