{#- EEO counts for dashboards: applicants per year, job family and outcome by gender and by race, with
    every cell of fewer than `eeo_min_cell` people (default 11: cells of 1-10 are suppressed) shown as
    null and flagged, so nobody can be singled out. No person or application id leaves this model. -#}
{%- set min_cell = var('eeo_min_cell', 11) -%}
with

answers as (

    select
        extract(year from a.applied_at) as applied_year,
        coalesce(a.job_family, 'Unknown') as job_family,
        case when a.hired_at is not null then 'hired'
             when a.rejected_at is not null then 'rejected'
             else 'in_process' end as outcome,
        e.gender,
        e.race,
        a.person_id
    from {{ ref('stg_eeo__self_identification') }} e
    join {{ ref('fct_applications') }} a on a.application_id = e.application_id

),

cells as (

    select applied_year, job_family, outcome, 'gender' as dimension, gender as category,
           count(distinct person_id) as applicants
    from answers group by 1, 2, 3, 4, 5
    union all
    select applied_year, job_family, outcome, 'race' as dimension, race as category,
           count(distinct person_id) as applicants
    from answers group by 1, 2, 3, 4, 5

)

select
    cast(applied_year as integer) as applied_year,
    cast(job_family as varchar) as job_family,
    cast(outcome as varchar) as outcome,
    cast(dimension as varchar) as dimension,
    cast(category as varchar) as category,
    cast(case when applicants >= {{ min_cell }} then applicants end as bigint) as applicants,
    applicants < {{ min_cell }} as is_suppressed
from cells
