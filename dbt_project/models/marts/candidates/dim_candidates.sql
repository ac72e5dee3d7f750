with

golden as (

    select * from {{ ref('int_candidates_golden') }}

),

contactability as (

    select * from {{ ref('int_candidate_contactability') }}

),

final as (

    select
        golden.person_id,
        golden.first_name,
        golden.last_name,
        golden.email,
        golden.phone,
        golden.city,
        golden.region,
        golden.country,
        contactability.country_code,
        golden.linkedin_url,
        golden.current_title,
        golden.current_company,
        golden.skills,
        golden.years_experience,
        golden.job_family,
        golden.sources,
        golden.source_count,
        golden.record_count,
        golden.first_seen_at,
        golden.last_activity_at,
        contactability.has_marketing_consent,
        contactability.consent_basis,
        contactability.is_suppressed,
        contactability.is_contactable,
        contactability.not_contactable_reason
    from golden
    inner join contactability on golden.person_id = contactability.person_id

)

select * from final
