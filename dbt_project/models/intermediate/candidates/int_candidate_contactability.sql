{#- The marketing decision per person (rules in the model's YAML). Reasons are checked in order
    and the first that applies is `not_contactable_reason`. The address marketing may use is the
    one the consent covers (`marketing_email`): the confirmed opt-in's own address, or for
    legitimate interest the ATS profile's address; an opt-in never spreads to another address. -#}
with

golden as (

    select * from {{ ref('int_candidates_golden') }}

),

consent as (

    select * from {{ ref('int_candidate_consent') }}

),

applications as (

    select * from {{ ref('int_applications_enriched') }}

),

hires as (

    select * from {{ ref('int_hires') }}

),

country_marketing_rules as (

    select * from {{ ref('country_marketing_rules') }}

),

application_flags as (

    select
        person_id,
        max(case when is_in_process then 1 else 0 end) = 1 as is_in_active_application
    from applications
    where person_id is not null
    group by person_id

),

hired_people as (

    select distinct person_id from hires where person_id is not null

),

facts as (

    select
        golden.person_id,
        golden.email,
        golden.ats_email,
        consent.opt_in_email,
        golden.country_code,
        coalesce(country_marketing_rules.requires_opt_in, true) as requires_opt_in,
        golden.has_ats_record,
        golden.ats_first_seen_at,
        consent.opted_in_at,
        consent.has_confirmed_opt_in,
        consent.has_pending_opt_in,
        consent.has_pending_opt_in and not consent.has_confirmed_opt_in as is_pending_opt_in_only,
        golden.has_ats_record and not coalesce(country_marketing_rules.requires_opt_in, true) as has_legitimate_interest,
        consent.is_suppressed,
        consent.suppression_reason,
        consent.has_employee_address or hired_people.person_id is not null as is_employee,
        coalesce(application_flags.is_in_active_application, false) as is_in_active_application
    from golden
    inner join consent on golden.person_id = consent.person_id
    left join application_flags on golden.person_id = application_flags.person_id
    left join hired_people on golden.person_id = hired_people.person_id
    left join country_marketing_rules on golden.country_code = country_marketing_rules.country_code

),

addressed as (

    select
        facts.*,
        -- the address the consent covers; without consent the golden one (only for the reason)
        case
            when has_confirmed_opt_in then opt_in_email
            when has_legitimate_interest then ats_email
        end as marketing_email,
        -- every address in the pool passed email-validator at ingestion (forms refuse, the vendor
        -- reader rejects the row, the ATS loader's verdict keeps invalid ones out of the record):
        -- an address here is a valid one
        case when has_confirmed_opt_in then opt_in_email when has_legitimate_interest then ats_email else email end
            is not null as has_valid_email
    from facts

),

decided as (

    select
        person_id,
        email,
        marketing_email,
        has_valid_email,
        country_code,
        requires_opt_in,
        has_confirmed_opt_in,
        is_pending_opt_in_only,
        has_legitimate_interest,
        has_confirmed_opt_in or has_legitimate_interest as has_marketing_consent,
        case
            when has_confirmed_opt_in then 'opt_in'
            when has_legitimate_interest then 'legitimate_interest'
        end as consent_basis,
        -- what an email provider asks of each imported contact: when and where the basis was recorded
        case
            when has_confirmed_opt_in then opted_in_at
            when has_legitimate_interest then ats_first_seen_at
        end as consent_recorded_at,
        case
            when has_confirmed_opt_in then 'talent_network_double_opt_in'
            when has_legitimate_interest then 'ats_candidate_record'
        end as consent_source,
        is_suppressed,
        suppression_reason,
        is_employee,
        is_in_active_application,
        case
            when not has_valid_email then 'no_valid_email'
            when is_suppressed then 'suppressed'
            when is_employee then 'employee'
            when is_pending_opt_in_only then 'pending_double_opt_in'
            when not (has_confirmed_opt_in or has_legitimate_interest) then 'no_marketing_consent'
            when is_in_active_application then 'in_active_application'
        end as not_contactable_reason
    from addressed

),

final as (

    select
        decided.*,
        not_contactable_reason is null as is_contactable
    from decided

)

select * from final
