{#- Per person: marketing opt-in and suppression facts (not yet the decision; see
    int_candidate_contactability).
    - confirmed opt-in: a talent-network submission with the marketing box ticked and the double
      opt-in confirmed; `opt_in_email` is the address THAT submission gave (the latest confirmed
      one): consent is given for an address and never spreads to the person's other addresses;
    - pending opt-in: ticked but not confirmed;
    - suppressed: an unsubscribe, a complaint, a hard bounce, repeated soft bounces (3 in a row
      spanning 14 days, vars soft_bounce_*), a preference-centre opt-out or an erasure request on
      ANY address of ANY record of the person (earliest gives the reason);
    - employee address: one of the person's addresses is an ATS user's (recruiter, employee). -#}
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

    select submission_id, min(confirmed_at) as confirmed_at
    from {{ ref('stg_forms__consent_confirmations') }}
    group by submission_id

),

email_events as (

    select * from {{ ref('stg_email__events') }}

),

preference_changes as (

    select * from {{ ref('stg_forms__preference_changes') }}

),

erasure_requests as (

    select * from {{ ref('stg_forms__erasure_requests') }}

),

users as (

    select * from {{ ref('stg_ats__users') }}

),

submissions_confirmed as (

    -- a confirmation may arrive after the submission was loaded: the confirmations table wins
    select
        form_submissions.submission_id,
        form_submissions.form_name,
        form_submissions.email,
        form_submissions.submitted_at,
        form_submissions.has_marketing_consent,
        coalesce(confirmations.confirmed_at, form_submissions.confirmed_at) as confirmed_at
    from form_submissions
    left join confirmations on form_submissions.submission_id = confirmations.submission_id

),

people as (

    select distinct person_id from records

),

talent_network_sign_ups as (

    select
        records.person_id,
        submissions_confirmed.submission_id,
        submissions_confirmed.email,
        submissions_confirmed.confirmed_at,
        row_number() over (
            partition by records.person_id
            order by
                case when submissions_confirmed.confirmed_at is not null then 0 else 1 end,
                submissions_confirmed.confirmed_at desc,
                submissions_confirmed.submission_id desc
        ) as sign_up_rank
    from records
    inner join submissions_confirmed
        on records.source = submissions_confirmed.form_name
        and records.source_record_id = cast(submissions_confirmed.submission_id as varchar)
    where submissions_confirmed.form_name = 'talent_network'
        and submissions_confirmed.has_marketing_consent

),

opt_ins as (

    select
        person_id,
        max(case when confirmed_at is not null then 1 else 0 end) = 1 as has_confirmed_opt_in,
        max(case when confirmed_at is null then 1 else 0 end) = 1 as has_pending_opt_in,
        min(confirmed_at) as opted_in_at,
        max(case when sign_up_rank = 1 and confirmed_at is not null then trim(email) end) as opt_in_email,
        max(case when sign_up_rank = 1 then submission_id end) as consent_submission_id
    from talent_network_sign_ups
    group by person_id

),

latest_preferences as (

    select email_normalized, is_unsubscribed_all, changed_at
    from (
        select
            email_normalized,
            is_unsubscribed_all,
            changed_at,
            row_number() over (
                partition by email_normalized order by changed_at desc, preference_change_id desc
            ) as change_rank
        from preference_changes
    ) as ranked
    where change_rank = 1

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
        and (last_reached.reached_at is null or email_events.occurred_at > last_reached.reached_at)
    group by email_events.email_normalized

),

suppressing_facts as (

    select
        email_normalized,
        occurred_at,
        case when event_type = 'bounce' then 'hard_bounce' else event_type end as suppression_reason,
        event_id as fact_id
    from email_events
    where event_type in ('unsubscribe', 'complaint')
        or (event_type = 'bounce' and bounce_type = 'hard')

    union all

    select email_normalized, changed_at, 'unsubscribe', 'preference:' || email_normalized
    from latest_preferences
    where is_unsubscribed_all

    union all

    select email_normalized, requested_at, 'erasure', 'erasure:' || cast(erasure_request_id as varchar)
    from erasure_requests

    union all

    select email_normalized, last_bounced_at, 'soft_bounce', 'soft_bounce:' || email_normalized
    from soft_bounce_runs
    where soft_bounces >= {{ var('soft_bounce_limit') }}
        and {{ dbt.datediff('first_bounced_at', 'last_bounced_at', 'day') }} >= {{ var('soft_bounce_span_days') }}

),

suppressing_events as (

    select
        addresses.person_id,
        suppressing_facts.occurred_at,
        suppressing_facts.suppression_reason,
        row_number() over (
            partition by addresses.person_id
            order by suppressing_facts.occurred_at, suppressing_facts.fact_id
        ) as event_rank
    from suppressing_facts
    inner join addresses on suppressing_facts.email_normalized = addresses.email_normalized

),

employee_addresses as (

    select distinct addresses.person_id
    from addresses
    inner join users on addresses.email_normalized = {{ normalize_email('users.email_address') }}

),

consent as (

    select
        people.person_id,
        coalesce(opt_ins.has_confirmed_opt_in, false) as has_confirmed_opt_in,
        coalesce(opt_ins.has_pending_opt_in, false) as has_pending_opt_in,
        opt_ins.opted_in_at,
        opt_ins.opt_in_email,
        opt_ins.consent_submission_id,
        suppressing_events.person_id is not null as is_suppressed,
        suppressing_events.suppression_reason,
        suppressing_events.occurred_at as suppressed_at,
        employee_addresses.person_id is not null as has_employee_address
    from people
    left join opt_ins on people.person_id = opt_ins.person_id
    left join suppressing_events
        on people.person_id = suppressing_events.person_id and suppressing_events.event_rank = 1
    left join employee_addresses on people.person_id = employee_addresses.person_id

)

select * from consent
