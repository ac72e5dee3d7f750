{#- The consent events: one row per event per person and address, and the one source of each
    person's consent state (int_candidate_consent). The rules are warmpool/consent.py's (the same
    cases run through both in tests/test_consent_model.py); the thresholds are the seed consent_rules.
    The ledger (fct_consent_records) is the requested / confirmed / withdrawn rows:
    - requested: a talent-network submission with the marketing box ticked (wording version and
      hash, IP and user agent of the submission);
    - confirmed: a double opt-in confirmation (stg_forms__consent_confirmations, with its own IP and
      user agent; a submission loaded already confirmed without such a row counts once, at its
      `confirmed_at`, without IP and user agent);
    - withdrawn: a preference-centre opt-out of everything (page or RFC 8058 one-click, with IP and
      user agent; the web store writes an `unsubscribe` email event in the same transaction, which
      is this row's provider_event_id, not a second row), any other unsubscribe or complaint email
      event, or an erasure request. A withdrawal is on an address: it is a row for EVERY person who
      has that address (as suppression is).
    - undeliverable: a hard bounce (a bounce not reported as soft), or soft bounces that reached the
      consent_rules threshold since the address was last reached. Deliverability, not consent: not
      in the ledger, but they suppress.
    `suppression_reason` is what the row does to the person: unsubscribe, complaint, erasure,
    hard_bounce, soft_bounce, or null (consent given; an opt-out that a later preference change of
    the address replaced and that came with no unsubscribe event). `email` is the canonical address
    (macro canonical_email), the key everything matches on; `address` the address as recorded. -#}
with

records as (

    select * from {{ ref('int_candidate_records_resolved') }}
    where person_id is not null

),

addresses as (

    select * from {{ ref('int_candidate_email_addresses') }}

),

form_submissions as (

    select * from {{ ref('stg_forms__submissions') }}

),

confirmations as (

    select * from {{ ref('stg_forms__consent_confirmations') }}

),

preference_changes as (

    select * from {{ ref('stg_forms__preference_changes') }}

),

email_events as (

    select * from {{ ref('stg_email__events') }}

),

erasure_requests as (

    select * from {{ ref('stg_forms__erasure_requests') }}

),

rules as (

    select * from {{ ref('consent_rules') }}

),

sign_ups as (

    -- talent-network submissions with the (never pre-ticked) marketing box ticked, with their person
    select
        records.person_id,
        form_submissions.submission_id,
        {{ canonical_email('form_submissions.email') }} as email,
        trim(form_submissions.email) as address,
        form_submissions.submitted_at,
        form_submissions.consent_wording_version,
        form_submissions.consent_wording_hash,
        form_submissions.ip,
        form_submissions.user_agent,
        form_submissions.confirmed_at
    from form_submissions
    inner join records
        on records.source = form_submissions.form_name
        and records.source_record_id = cast(form_submissions.submission_id as varchar)
    where form_submissions.form_name = 'talent_network'
        and form_submissions.has_marketing_consent

),

requested as (

    select
        'form_submission:' || cast(submission_id as varchar) as event_key,
        person_id,
        email,
        address,
        'requested' as event,
        submitted_at as occurred_at,
        'talent_network_form' as channel,
        consent_wording_version as wording_version,
        consent_wording_hash as wording_hash,
        ip,
        user_agent,
        submission_id,
        cast(null as varchar) as provider_event_id,
        cast(null as varchar) as campaign_id,
        cast(null as varchar) as suppression_reason
    from sign_ups

),

confirmed_by_link as (

    select
        'consent_confirmation:' || cast(confirmations.confirmation_id as varchar) as event_key,
        sign_ups.person_id,
        sign_ups.email,
        sign_ups.address,
        'confirmed' as event,
        confirmations.confirmed_at as occurred_at,
        'confirmation_link' as channel,
        sign_ups.consent_wording_version as wording_version,
        sign_ups.consent_wording_hash as wording_hash,
        confirmations.ip,
        confirmations.user_agent,
        sign_ups.submission_id,
        cast(null as varchar) as provider_event_id,
        cast(null as varchar) as campaign_id,
        cast(null as varchar) as suppression_reason
    from confirmations
    inner join sign_ups on confirmations.submission_id = sign_ups.submission_id

),

confirmed_on_submission as (

    -- loaded already confirmed, and no confirmation row: the submission's own `confirmed_at`
    select
        'form_submission:' || cast(sign_ups.submission_id as varchar) || ':confirmed' as event_key,
        sign_ups.person_id,
        sign_ups.email,
        sign_ups.address,
        'confirmed' as event,
        sign_ups.confirmed_at as occurred_at,
        'confirmation_link' as channel,
        sign_ups.consent_wording_version as wording_version,
        sign_ups.consent_wording_hash as wording_hash,
        cast(null as varchar) as ip,
        cast(null as varchar) as user_agent,
        sign_ups.submission_id,
        cast(null as varchar) as provider_event_id,
        cast(null as varchar) as campaign_id,
        cast(null as varchar) as suppression_reason
    from sign_ups
    left join confirmations on sign_ups.submission_id = confirmations.submission_id
    where sign_ups.confirmed_at is not null
        and confirmations.submission_id is null

),

web_unsubscribe_events as (

    select event_id, email_normalized, occurred_at
    from email_events
    where event_type = 'unsubscribe' and provider = 'warmpool-web'

),

latest_preference_changes as (

    -- an address's current choice is its latest preference change
    select preference_change_id
    from (
        select
            preference_change_id,
            row_number() over (
                partition by email_normalized order by changed_at desc, preference_change_id desc
            ) as change_rank
        from preference_changes
        where email_normalized is not null
    ) as ranked
    where change_rank = 1

),

preference_opt_outs as (

    -- an opt-out of everything, with the web store's unsubscribe event written in the same
    -- transaction (same address, same instant)
    select
        preference_changes.preference_change_id,
        latest_preference_changes.preference_change_id is not null as is_latest_change,
        preference_changes.email,
        preference_changes.email_normalized,
        preference_changes.changed_at,
        preference_changes.change_source,
        preference_changes.ip,
        preference_changes.user_agent,
        preference_changes.campaign_id,
        min(web_unsubscribe_events.event_id) as provider_event_id
    from preference_changes
    left join latest_preference_changes
        on preference_changes.preference_change_id = latest_preference_changes.preference_change_id
    left join web_unsubscribe_events
        on preference_changes.email_normalized = web_unsubscribe_events.email_normalized
        and preference_changes.changed_at = web_unsubscribe_events.occurred_at
    where preference_changes.is_unsubscribed_all
        and preference_changes.email_normalized is not null
    group by
        preference_changes.preference_change_id,
        latest_preference_changes.preference_change_id,
        preference_changes.email,
        preference_changes.email_normalized,
        preference_changes.changed_at,
        preference_changes.change_source,
        preference_changes.ip,
        preference_changes.user_agent,
        preference_changes.campaign_id

),

withdrawals as (

    -- in force while it is the address's latest choice; for good once an unsubscribe event came with it
    select
        'preference_change:' || cast(preference_change_id as varchar) as event_key,
        email_normalized as email,
        trim(email) as address,
        changed_at as occurred_at,
        case change_source
            when 'one_click' then 'one_click_unsubscribe'
            when 'page' then 'preference_centre'
            else 'web_unsubscribe'
        end as channel,
        ip,
        user_agent,
        provider_event_id,
        campaign_id,
        case when is_latest_change or provider_event_id is not null then 'unsubscribe' end as suppression_reason
    from preference_opt_outs

    union all

    -- provider unsubscribes and complaints, and web unsubscribes with no preference change of their
    -- own (a second link used after the address had already opted out)
    select
        'email_event:' || email_events.event_id as event_key,
        email_events.email_normalized as email,
        trim(email_events.email) as address,
        email_events.occurred_at,
        case
            when email_events.event_type = 'complaint' then 'provider_complaint'
            when email_events.provider = 'warmpool-web' then 'web_unsubscribe'
            else 'provider_unsubscribe'
        end as channel,
        cast(null as varchar) as ip,
        cast(null as varchar) as user_agent,
        email_events.event_id as provider_event_id,
        email_events.campaign_id,
        case when email_events.event_type = 'complaint' then 'complaint' else 'unsubscribe' end as suppression_reason
    from email_events
    left join preference_opt_outs on email_events.event_id = preference_opt_outs.provider_event_id
    where email_events.event_type in ('unsubscribe', 'complaint')
        and email_events.email_normalized is not null
        and preference_opt_outs.provider_event_id is null

    union all

    select
        'erasure_request:' || cast(erasure_request_id as varchar) as event_key,
        email_normalized as email,
        trim(email) as address,
        requested_at as occurred_at,
        'erasure_request' as channel,
        ip,
        user_agent,
        cast(null as varchar) as provider_event_id,
        campaign_id,
        'erasure' as suppression_reason
    from erasure_requests
    where email_normalized is not null

),

last_reached as (

    -- a delivery, or an open or click (which prove one), ends a run of soft bounces
    select email_normalized, max(occurred_at) as reached_at
    from email_events
    where event_type in ('delivered', 'open', 'click')
    group by email_normalized

),

soft_bounce_runs as (

    -- the soft bounces since the address was last reached
    select
        email_events.email_normalized,
        count(*) as soft_bounces,
        min(email_events.occurred_at) as first_bounced_at,
        max(email_events.occurred_at) as last_bounced_at
    from email_events
    left join last_reached on email_events.email_normalized = last_reached.email_normalized
    where email_events.event_type = 'bounce'
        and email_events.bounce_type = 'soft'
        and email_events.email_normalized is not null
        and (last_reached.reached_at is null or email_events.occurred_at > last_reached.reached_at)
    group by email_events.email_normalized

),

bounces as (

    -- a bounce not reported as soft counts as hard (suppressing too much is the safe side)
    select
        'email_event:' || event_id as event_key,
        email_normalized as email,
        trim(email) as address,
        occurred_at,
        'hard_bounce' as channel,
        cast(null as varchar) as ip,
        cast(null as varchar) as user_agent,
        event_id as provider_event_id,
        campaign_id,
        'hard_bounce' as suppression_reason
    from email_events
    where event_type = 'bounce'
        and coalesce(bounce_type, 'hard') <> 'soft'
        and email_normalized is not null

    union all

    select
        'soft_bounces:' || soft_bounce_runs.email_normalized as event_key,
        soft_bounce_runs.email_normalized as email,
        soft_bounce_runs.email_normalized as address,
        soft_bounce_runs.last_bounced_at as occurred_at,
        'repeated_soft_bounces' as channel,
        cast(null as varchar) as ip,
        cast(null as varchar) as user_agent,
        cast(null as varchar) as provider_event_id,
        cast(null as varchar) as campaign_id,
        'soft_bounce' as suppression_reason
    from soft_bounce_runs
    cross join rules
    where soft_bounce_runs.soft_bounces >= rules.soft_bounce_limit
        and {{ dbt.dateadd('day', 'rules.soft_bounce_span_days', 'soft_bounce_runs.first_bounced_at') }}
            <= soft_bounce_runs.last_bounced_at

),

on_addresses as (

    -- an event on an address belongs to every person who has the address (as suppression does)
    select
        address_events.event_key,
        addresses.person_id,
        address_events.email,
        address_events.address,
        address_events.event,
        address_events.occurred_at,
        address_events.channel,
        cast(null as varchar) as wording_version,
        cast(null as varchar) as wording_hash,
        address_events.ip,
        address_events.user_agent,
        cast(null as bigint) as submission_id,
        address_events.provider_event_id,
        address_events.campaign_id,
        address_events.suppression_reason
    from (
        select 'withdrawn' as event, * from withdrawals
        union all
        select 'undeliverable' as event, * from bounces
    ) as address_events
    inner join addresses on address_events.email = addresses.email_normalized

),

events as (

    select * from requested
    union all
    select * from confirmed_by_link
    union all
    select * from confirmed_on_submission
    union all
    select * from on_addresses

),

final as (

    select
        person_id || '/' || event_key as consent_event_id,
        person_id,
        email,
        address,
        event,
        occurred_at,
        channel,
        wording_version,
        wording_hash,
        ip,
        user_agent,
        submission_id,
        provider_event_id,
        campaign_id,
        suppression_reason
    from events

)

select * from final
