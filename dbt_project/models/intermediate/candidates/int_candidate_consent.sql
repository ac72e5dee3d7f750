{#- Per person: marketing opt-in and suppression facts (not yet the decision; see
    int_candidate_contactability).
    - confirmed opt-in: a talent-network submission with the marketing box ticked and the double
      opt-in confirmed (`confirmed_at` set);
    - pending opt-in: ticked but not confirmed;
    - suppressed: an unsubscribe, a complaint or a hard bounce on ANY of the person's addresses
      (earliest such event gives the reason);
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

submissions_confirmed as (

    -- a confirmation may arrive after the submission was loaded: the confirmations table wins
    select
        form_submissions.submission_id,
        form_submissions.form_name,
        form_submissions.has_marketing_consent,
        coalesce(confirmations.confirmed_at, form_submissions.confirmed_at) as confirmed_at
    from form_submissions
    left join confirmations on form_submissions.submission_id = confirmations.submission_id

),

email_events as (

    select * from {{ ref('stg_email__events') }}

),

users as (

    select * from {{ ref('stg_ats__users') }}

),

people as (

    select distinct person_id from records

),

opt_ins as (

    select
        records.person_id,
        max(case when submissions_confirmed.confirmed_at is not null then 1 else 0 end) = 1 as has_confirmed_opt_in,
        max(case when submissions_confirmed.confirmed_at is null then 1 else 0 end) = 1 as has_pending_opt_in,
        min(submissions_confirmed.confirmed_at) as opted_in_at
    from records
    inner join submissions_confirmed
        on records.source = submissions_confirmed.form_name
        and records.source_record_id = cast(submissions_confirmed.submission_id as varchar)
    where submissions_confirmed.form_name = 'talent_network'
        and submissions_confirmed.has_marketing_consent
    group by records.person_id

),

suppressing_events as (

    select
        addresses.person_id,
        email_events.occurred_at,
        case
            when email_events.event_type = 'bounce' then 'hard_bounce'
            else email_events.event_type
        end as suppression_reason,
        row_number() over (
            partition by addresses.person_id order by email_events.occurred_at, email_events.event_id
        ) as event_rank
    from email_events
    inner join addresses on email_events.email_normalized = addresses.email_normalized
    where email_events.event_type in ('unsubscribe', 'complaint')
        or (email_events.event_type = 'bounce' and email_events.bounce_type = 'hard')

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
