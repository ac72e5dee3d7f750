{#- Every ISO country code has ONE display name, in the candidate mart and in the audiences alike,
    and a code never goes without its name (or a name without its code). -#}
with

countries as (

    select country_code, country from {{ ref('dim_candidates') }}
    union all
    select country_code, country from {{ ref('audience_members') }}

)

select country_code, count(distinct country) as display_names, count(*) as people
from countries
where country_code is not null or country is not null
group by country_code
having count(distinct country) <> 1 or country_code is null or count(country) < count(*)
