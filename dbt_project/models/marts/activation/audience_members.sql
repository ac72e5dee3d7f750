with

candidates as (

    select * from {{ ref('dim_candidates') }}

),

campaigns as (

    select * from {{ ref('stg_campaigns__campaigns') }}

),

email_addresses as (

    select * from {{ ref('int_candidate_email_addresses') }}

),

person_email_keys as (

    -- every address of the person: the sender re-checks suppression on all of them at send time
    select
        person_id,
        {{ dbt.listagg('email_normalized', "';'", 'order by email_normalized') }} as person_email_keys
    from email_addresses
    group by person_id

),

segment_members as (

    select * from {{ source('marts', 'segment_members') }}

),

contactable as (

    select * from candidates
    where is_contactable

),

matched as (

    select
        campaigns.campaign_id,
        campaigns.campaign_name,
        contactable.person_id,
        contactable.marketing_email as email,
        contactable.first_name,
        contactable.last_name,
        contactable.city,
        contactable.country,
        contactable.country_code,
        contactable.job_family,
        contactable.years_experience,
        contactable.consent_basis,
        contactable.consent_recorded_at,
        contactable.consent_source,
        contactable.seniority,
        contactable.heat_band,
        campaigns.segment
    from campaigns
    -- a campaign picks people by its segment only; the segment's meaning is compiled once, in
    -- warmpool/segments.py (segment_members)
    inner join segment_members on segment_members.segment = campaigns.segment
    inner join contactable on contactable.person_id = segment_members.person_id

),

final as (

    select
        matched.campaign_id,
        matched.person_id,
        matched.email,
        first_name,
        last_name,
        city,
        country,
        country_code,
        job_family,
        consent_basis,
        consent_recorded_at,
        consent_source,
        campaign_name as segment,
        -- provider tags: the facts a marketer filters on, each as `key:value`
        'job_family:' || coalesce(job_family, 'unknown')
            || ';seniority:' || coalesce(seniority, 'unknown')
            || ';country:' || coalesce(country_code, 'unknown')
            || ';heat:' || coalesce(heat_band, 'unknown') as tags,
        'consent=' || consent_basis || '; segment=' || matched.segment as inclusion_reason,
        person_email_keys.person_email_keys
    from matched
    left join person_email_keys on matched.person_id = person_email_keys.person_id

)

select * from final
