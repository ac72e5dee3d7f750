with

golden as (

    select * from {{ ref('int_candidates_golden') }}

),

contactability as (

    select * from {{ ref('int_candidate_contactability') }}

),

consent as (

    select * from {{ ref('int_candidate_consent') }}

),

engagement as (

    select * from {{ ref('int_candidate_engagement') }}

),

applications as (

    select * from {{ ref('int_applications_enriched') }}
    where person_id is not null

),

consent_events as (

    select * from {{ ref('int_candidate_consent_events') }}

),

consent_sign_up as (

    -- the consent record of the sign-up the person's opt-in rests on (int_candidate_consent:
    -- the latest confirmed one, else the latest pending one), from the ledger
    select
        consent.person_id,
        consent_events.email,
        consent_events.occurred_at as given_at,
        consent_events.wording_version,
        confirmations.confirmed_at
    from consent
    inner join consent_events
        on consent.person_id = consent_events.person_id
        and consent.consent_submission_id = consent_events.submission_id
        and consent_events.event = 'requested'
    left join (
        select person_id, submission_id, min(occurred_at) as confirmed_at
        from consent_events
        where event = 'confirmed'
        group by person_id, submission_id
    ) as confirmations
        on consent.person_id = confirmations.person_id
        and consent.consent_submission_id = confirmations.submission_id

),

consent_withdrawals as (

    -- the first withdrawal of that address since the consent was given (a person-wide suppression,
    -- e.g. on another address or before this sign-up, is `suppressed_at`)
    select person_id, withdrawn_at, withdrawal_channel
    from (
        select
            consent_sign_up.person_id,
            consent_events.occurred_at as withdrawn_at,
            consent_events.channel as withdrawal_channel,
            row_number() over (
                partition by consent_sign_up.person_id
                order by consent_events.occurred_at, consent_events.consent_event_id
            ) as withdrawal_rank
        from consent_sign_up
        inner join consent_events
            on consent_sign_up.person_id = consent_events.person_id
            and consent_sign_up.email = consent_events.email
            and consent_events.event = 'withdrawn'
            and consent_events.occurred_at >= consent_sign_up.given_at
    ) as ranked
    where withdrawal_rank = 1

),

hires as (

    select distinct person_id from {{ ref('int_hires') }} where person_id is not null

),

application_facts as (

    select
        person_id,
        cast(count(*) as bigint) as application_count,
        max(case when is_silver_medal_application then 1 else 0 end) = 1 as has_silver_medal_application,
        max(applied_at) as last_applied_at
    from applications
    group by person_id

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
        golden.country_code,
        golden.linkedin_url,
        golden.current_title,
        golden.current_company,
        golden.skills,
        golden.years_experience,
        golden.seniority,
        golden.job_family,
        golden.sources,
        golden.source_count,
        golden.record_count,
        golden.first_seen_at,
        golden.last_activity_at,
        engagement.last_engaged_at,
        engagement.engagement_score,
        engagement.heat_band,
        coalesce(application_facts.application_count, 0) as application_count,
        hires.person_id is not null as is_hired,
        -- silver medalist: reached the final interview or the offer, turned away, never hired
        coalesce(application_facts.has_silver_medal_application, false) and hires.person_id is null
            as is_silver_medalist,
        case
            when consent.consent_state = 'no_consent' and contactability.has_legitimate_interest
                then 'legitimate_interest'
            else consent.consent_state
        end as consent_state,
        consent.opted_in_at,
        consent_sign_up.given_at as marketing_consent_given_at,
        consent_sign_up.confirmed_at as marketing_consent_confirmed_at,
        consent_sign_up.wording_version as marketing_consent_wording_version,
        consent_withdrawals.withdrawn_at as marketing_consent_withdrawn_at,
        consent_withdrawals.withdrawal_channel as marketing_consent_withdrawal_channel,
        consent.suppression_reason,
        consent.suppressed_at,
        contactability.marketing_email,
        contactability.has_marketing_consent,
        contactability.consent_basis,
        contactability.consent_recorded_at,
        contactability.consent_source,
        contactability.is_suppressed,
        contactability.is_contactable,
        contactability.not_contactable_reason,
        golden.name_source,
        golden.email_source,
        golden.location_source,
        golden.job_source
    from golden
    inner join contactability on golden.person_id = contactability.person_id
    inner join consent on golden.person_id = consent.person_id
    inner join engagement on golden.person_id = engagement.person_id
    left join application_facts on golden.person_id = application_facts.person_id
    left join hires on golden.person_id = hires.person_id
    left join consent_sign_up on golden.person_id = consent_sign_up.person_id
    left join consent_withdrawals on golden.person_id = consent_withdrawals.person_id

)

select * from final
