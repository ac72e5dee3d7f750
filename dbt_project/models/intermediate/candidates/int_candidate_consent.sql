{#- Per person: the consent state, derived from the person's consent events and nothing else
    (int_candidate_consent_events; the rules are warmpool/consent.py's), plus whether one of the
    person's addresses is an employee's. Not yet the marketing decision (int_candidate_contactability).
    - confirmed opt-in: a sign-up with a confirmation; `opt_in_email` is the address THAT sign-up
      gave (the latest confirmed one): consent is given for an address and never spreads to the
      person's other addresses;
    - pending opt-in: a sign-up without one;
    - suppressed: the person's earliest event with a suppression reason (ties by reason name);
    - consent_state: suppressed, else opted_in, else pending_double_opt_in, else no_consent. -#}
with

records as (

    select * from {{ ref('int_candidate_records_resolved') }}
    where person_id is not null

),

consent_events as (

    select * from {{ ref('int_candidate_consent_events') }}

),

addresses as (

    select * from {{ ref('int_candidate_email_addresses') }}

),

users as (

    select * from {{ ref('stg_ats__users') }}

),

people as (

    select distinct person_id from records

),

confirmations as (

    select person_id, submission_id, min(occurred_at) as confirmed_at
    from consent_events
    where event = 'confirmed'
    group by person_id, submission_id

),

sign_ups as (

    select
        requested.person_id,
        requested.submission_id,
        requested.address,
        confirmations.confirmed_at,
        row_number() over (
            partition by requested.person_id
            order by
                case when confirmations.confirmed_at is not null then 0 else 1 end,
                confirmations.confirmed_at desc,
                requested.submission_id desc
        ) as sign_up_rank
    from consent_events as requested
    left join confirmations
        on requested.person_id = confirmations.person_id
        and requested.submission_id = confirmations.submission_id
    where requested.event = 'requested'

),

opt_ins as (

    select
        person_id,
        max(case when confirmed_at is not null then 1 else 0 end) = 1 as has_confirmed_opt_in,
        max(case when confirmed_at is null then 1 else 0 end) = 1 as has_pending_opt_in,
        min(confirmed_at) as opted_in_at,
        max(case when sign_up_rank = 1 and confirmed_at is not null then address end) as opt_in_email,
        max(case when sign_up_rank = 1 then submission_id end) as consent_submission_id
    from sign_ups
    group by person_id

),

suppressions as (

    select
        person_id,
        occurred_at,
        suppression_reason,
        row_number() over (
            partition by person_id order by occurred_at, suppression_reason
        ) as suppression_rank
    from consent_events
    where suppression_reason is not null

),

employee_addresses as (

    select distinct addresses.person_id
    from addresses
    inner join users on addresses.email_normalized = {{ canonical_email('users.email_address') }}

),

consent as (

    select
        people.person_id,
        coalesce(opt_ins.has_confirmed_opt_in, false) as has_confirmed_opt_in,
        coalesce(opt_ins.has_pending_opt_in, false) as has_pending_opt_in,
        opt_ins.opted_in_at,
        opt_ins.opt_in_email,
        opt_ins.consent_submission_id,
        suppressions.person_id is not null as is_suppressed,
        suppressions.suppression_reason,
        suppressions.occurred_at as suppressed_at,
        case
            when suppressions.person_id is not null then 'suppressed'
            when opt_ins.has_confirmed_opt_in then 'opted_in'
            when opt_ins.has_pending_opt_in then 'pending_double_opt_in'
            else 'no_consent'
        end as consent_state,
        employee_addresses.person_id is not null as has_employee_address
    from people
    left join opt_ins on people.person_id = opt_ins.person_id
    left join suppressions
        on people.person_id = suppressions.person_id and suppressions.suppression_rank = 1
    left join employee_addresses on people.person_id = employee_addresses.person_id

)

select * from consent
