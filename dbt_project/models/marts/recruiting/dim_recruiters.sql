with

users as (

    select * from {{ ref('stg_ats__users') }}

),

applications as (

    select * from {{ ref('int_applications_enriched') }}

),

hires as (

    select * from {{ ref('int_hires') }}

),

credited as (

    select
        applications.credited_to_user_id as user_id,
        cast(count(*) as bigint) as credited_application_count,
        cast(sum(case when applications.is_prospect then 1 else 0 end) as bigint) as prospect_count,
        cast(count(hires.application_id) as bigint) as hire_count
    from applications
    left join hires on applications.application_id = hires.application_id
    where applications.credited_to_user_id is not null
    group by applications.credited_to_user_id

),

final as (

    select
        users.user_id,
        users.full_name,
        users.first_name,
        users.last_name,
        users.email_address,
        users.employee_id,
        users.is_disabled,
        users.is_site_admin,
        users.created_at,
        coalesce(credited.credited_application_count, 0) as credited_application_count,
        coalesce(credited.prospect_count, 0) as prospect_count,
        coalesce(credited.hire_count, 0) as hire_count
    from users
    left join credited on users.user_id = credited.user_id

)

select * from final
