{#- One row per hire: every hired application, plus every accepted offer (the ATS's other record of a
    hire) that no hired application accounts for. An accepted offer for an application the warehouse
    does not have is a broken hire: the `relationships` test on this model fails and `dbt build`
    skips everything downstream (people, audiences), since an unknown hire may be an employee. -#}
with

applications as (

    select * from {{ ref('int_applications_enriched') }}

),

offers as (

    select * from {{ ref('stg_ats__offers') }}

),

assignments as (

    select * from {{ ref('stg_identity__source_record_person') }}

),

hired_applications as (

    select
        application_id,
        person_id,
        candidate_id,
        job_id,
        hired_at,
        'hired_application' as hire_basis
    from applications
    where status = 'hired'

),

accepted_offers as (

    select
        offers.application_id,
        assignments.person_id,
        offers.candidate_id,
        offers.job_id,
        coalesce(offers.resolved_at, offers.updated_at) as hired_at,
        'accepted_offer' as hire_basis,
        row_number() over (
            partition by offers.application_id order by offers.offer_version desc, offers.offer_id desc
        ) as offer_rank
    from offers
    left join assignments
        on assignments.source = 'ats'
        and assignments.source_record_id = cast(offers.candidate_id as varchar)
    where offers.status = 'accepted'

),

hires as (

    select * from hired_applications

    union all

    select application_id, person_id, candidate_id, job_id, hired_at, hire_basis
    from accepted_offers
    where offer_rank = 1
        and application_id not in (select application_id from hired_applications)

)

select * from hires
