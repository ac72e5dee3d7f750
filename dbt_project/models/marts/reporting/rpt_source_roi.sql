-- Hires, spend, cost per hire and time to hire by ATS source (with its channel and vendor), month, job
-- family and country. A hire and an application count under the job's family and the person's country;
-- a purchase (spend) under the bought person's job family and country.
with

hires as (

    select * from {{ ref('fct_hires') }}

),

applications as (

    select * from {{ ref('int_applications_enriched') }}

),

purchases as (

    select * from {{ ref('fct_vendor_purchases') }}

),

channels as (

    select * from {{ ref('ats_source_channels') }}

),

people as (

    select person_id, job_family, country_code from {{ ref('dim_candidates') }}

),

hire_months as (

    select
        cast({{ dbt.date_trunc('month', 'hired_at') }} as date) as period_month,
        coalesce(hires.source_name, '(no source)') as source_name,
        hires.job_family,
        people.country_code,
        cast(count(*) as bigint) as hires,
        cast(sum(hires.days_to_hire) as bigint) as total_days_to_hire,
        cast(count(hires.days_to_hire) as bigint) as hires_with_days
    from hires
    left join people on people.person_id = hires.person_id
    group by 1, 2, 3, 4

),

application_months as (

    select
        cast({{ dbt.date_trunc('month', 'applied_at') }} as date) as period_month,
        coalesce(applications.source_name, '(no source)') as source_name,
        applications.job_family,
        people.country_code,
        cast(count(*) as bigint) as applications
    from applications
    left join people on people.person_id = applications.person_id
    where applications.applied_at is not null
    group by 1, 2, 3, 4

),

spend_months as (

    -- a vendor's spend goes to the ATS source mapped to it (seed ats_source_channels), and each
    -- purchase's cost to the job family and country of the person bought
    select
        cast({{ dbt.date_trunc('month', 'purchases.purchased_at') }} as date) as period_month,
        coalesce(channels.source_name, '(vendor ' || purchases.vendor || ')') as source_name,
        people.job_family,
        people.country_code,
        cast(sum(purchases.cost) as numeric(14, 2)) as spend,
        cast(count(*) as bigint) as resumes_bought
    from purchases
    left join channels on purchases.vendor = channels.vendor
    left join people on people.person_id = purchases.person_id
    group by 1, 2, 3, 4

),

spine as (

    select period_month, source_name, job_family, country_code from hire_months
    union
    select period_month, source_name, job_family, country_code from application_months
    union
    select period_month, source_name, job_family, country_code from spend_months

),

final as (

    select
        spine.period_month,
        spine.source_name,
        spine.job_family,
        spine.country_code,
        coalesce(channels.channel, 'inbound') as channel,
        channels.vendor,
        coalesce(application_months.applications, 0) as applications,
        coalesce(hire_months.hires, 0) as hires,
        coalesce(spend_months.resumes_bought, 0) as resumes_bought,
        -- unknown is null, not zero: Warmpool knows the spend of vendors (their purchases) and of free
        -- sources only; a job board's or an agency's cost is not in the data
        case
            when channels.vendor is not null or spine.source_name like '(vendor %'
                then coalesce(spend_months.spend, cast(0 as numeric(14, 2)))
            when channels.cost_model = 'free' then cast(0 as numeric(14, 2))
        end as spend,
        -- a cost per hire needs both a spend and a hire: no hire, no spend or an unknown spend is null
        case when coalesce(hire_months.hires, 0) > 0 and spend_months.spend > 0
            then cast(spend_months.spend / hire_months.hires as numeric(14, 2)) end as cost_per_hire,
        case when hire_months.hires_with_days > 0
            then cast(cast(hire_months.total_days_to_hire as numeric(14, 2)) / hire_months.hires_with_days as numeric(10, 1))
        end as avg_days_to_hire
    from spine
    left join channels on spine.source_name = channels.source_name
    -- job family and country may be unknown (null): null matches null
    left join hire_months
        on spine.period_month = hire_months.period_month and spine.source_name = hire_months.source_name
        and spine.job_family is not distinct from hire_months.job_family
        and spine.country_code is not distinct from hire_months.country_code
    left join application_months
        on spine.period_month = application_months.period_month and spine.source_name = application_months.source_name
        and spine.job_family is not distinct from application_months.job_family
        and spine.country_code is not distinct from application_months.country_code
    left join spend_months
        on spine.period_month = spend_months.period_month and spine.source_name = spend_months.source_name
        and spine.job_family is not distinct from spend_months.job_family
        and spine.country_code is not distinct from spend_months.country_code

)

select * from final
