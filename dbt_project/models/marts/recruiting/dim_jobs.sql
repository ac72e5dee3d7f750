with

jobs as (

    select * from {{ ref('stg_ats__jobs') }}

),

applications as (

    select * from {{ ref('int_applications_enriched') }}

),

job_applications as (

    select
        job_id,
        cast(count(*) as bigint) as application_count,
        cast(sum(case when status = 'hired' then 1 else 0 end) as bigint) as hire_count,
        min(applied_at) as first_applied_at
    from applications
    where job_id is not null
    group by job_id

),

final as (

    select
        jobs.job_id,
        jobs.job_name,
        jobs.requisition_id,
        jobs.status,
        jobs.job_description,
        {{ job_family('jobs.job_family') }} as job_family,
        jobs.seniority,
        jobs.employment_type,
        jobs.created_at,
        jobs.opened_at,
        jobs.closed_at,
        coalesce(job_applications.application_count, 0) as application_count,
        coalesce(job_applications.hire_count, 0) as hire_count
    from jobs
    left join job_applications on jobs.job_id = job_applications.job_id

)

select * from final
