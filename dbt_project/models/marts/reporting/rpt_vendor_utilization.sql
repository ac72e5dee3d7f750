-- Per vendor contract and calendar year: credits bought vs used, spend, resumes that were already
-- in the pool when bought (the spend "search first" would have saved), repeat and rejected rows.
with

contracts as (

    select * from {{ ref('stg_vendors__contracts') }}

),

purchases as (

    select * from {{ ref('fct_vendor_purchases') }}

),

hires as (

    select * from {{ ref('fct_hires') }}

),

yearly as (

    select
        vendor,
        contract_id,
        cast({{ dbt.date_trunc('year', 'purchased_at') }} as date) as period_year,
        cast(count(*) as bigint) as resumes_bought,
        cast(sum(cost) as numeric(14, 2)) as spend,
        cast(sum(case when was_already_in_pool then 1 else 0 end) as bigint) as already_in_pool_resumes,
        cast(sum(case when was_already_in_pool then cost else 0 end) as numeric(14, 2)) as already_in_pool_spend,
        cast(sum(case when is_repeat_purchase then 1 else 0 end) as bigint) as repeat_purchases,
        cast(sum(case when not is_loaded then 1 else 0 end) as bigint) as rejected_resumes,
        cast(count(distinct person_id) as bigint) as people_bought
    from purchases
    group by 1, 2, 3

),

vendor_hires as (

    select vendor, cast({{ dbt.date_trunc('year', 'hired_at') }} as date) as period_year,
        cast(count(*) as bigint) as hires
    from hires
    where vendor is not null
    group by 1, 2

),

final as (

    select
        yearly.vendor,
        yearly.contract_id,
        contracts.vendor_name,
        contracts.vendor_kind,
        yearly.period_year,
        contracts.credits_per_year,
        yearly.resumes_bought as credits_used,
        case when contracts.credits_per_year > 0
            then cast(cast(yearly.resumes_bought as numeric(14, 2)) / contracts.credits_per_year as numeric(10, 4))
        end as credit_utilization,
        case when contracts.credits_per_year > yearly.resumes_bought
            then cast(contracts.credits_per_year - yearly.resumes_bought as bigint) else cast(0 as bigint)
        end as credits_unused,
        yearly.resumes_bought,
        yearly.people_bought,
        yearly.spend,
        contracts.annual_fee,
        yearly.already_in_pool_resumes,
        yearly.already_in_pool_spend,
        yearly.repeat_purchases,
        yearly.rejected_resumes,
        coalesce(vendor_hires.hires, 0) as hires
    from yearly
    left join contracts on yearly.contract_id = contracts.contract_id
    left join vendor_hires on yearly.vendor = vendor_hires.vendor and yearly.period_year = vendor_hires.period_year

)

select * from final
