-- Per referrer, month of referral, and the referred people's job family and country: referrals made
-- and what became of the people referred (applied, interviewed, hired, days from referral to hire).
with

referrals as (

    select * from {{ ref('int_referrals') }}

),

candidates as (

    select * from {{ ref('dim_candidates') }}

),

joined as (

    select
        cast({{ dbt.date_trunc('month', 'referrals.referred_at') }} as date) as referral_month,
        referrals.referrer_email,
        referrals.referrer_name,
        candidates.job_family,
        candidates.country_code,
        referrals.person_id,
        referrals.has_applied,
        referrals.was_interviewed,
        referrals.hired_at,
        referrals.days_to_hire
    from referrals
    left join candidates on candidates.person_id = referrals.person_id

),

final as (

    select
        referral_month,
        referrer_email,
        max(referrer_name) as referrer_name,
        job_family,
        country_code,
        count(*) as referrals,
        count(distinct person_id) as referred_people,
        count(distinct case when has_applied then person_id end) as applied_people,
        count(distinct case when was_interviewed then person_id end) as interviewed_people,
        count(distinct case when hired_at is not null then person_id end) as hired_people,
        avg(days_to_hire) as avg_days_to_hire
    from joined
    group by referral_month, referrer_email, job_family, country_code

)

select
    cast(referral_month as date) as referral_month,
    cast(referrer_email as varchar) as referrer_email,
    cast(referrer_name as varchar) as referrer_name,
    cast(job_family as varchar) as job_family,
    cast(country_code as varchar) as country_code,
    cast(referrals as bigint) as referrals,
    cast(referred_people as bigint) as referred_people,
    cast(applied_people as bigint) as applied_people,
    cast(interviewed_people as bigint) as interviewed_people,
    cast(hired_people as bigint) as hired_people,
    cast(avg_days_to_hire as double precision) as avg_days_to_hire  -- "double" is DuckDB's alone
from final
