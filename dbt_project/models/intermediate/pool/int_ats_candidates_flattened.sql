{#- One row per ATS candidate with the resolve-contract fields, taken from the candidate's child
    lists: primary email = the first valid address (email-validator's verdict, recorded by the ATS
    loader) with personal first (then other, then work; list order within a type), the
    first phone, the first address split as "..., City, Region, Country" where it has commas, and
    the first LinkedIn URL among the social media addresses. Years of experience = whole years from
    the earliest employment start to the candidate's last update. Incremental (macros/incremental.sql):
    a daily run flattens only the candidates the day's ATS loads wrote (dlt writes a changed candidate
    again with all its child lists). -#}
{{ source_record_increments('candidate_id') }}
with

candidates as (

    select * from {{ ref('stg_ats__candidates') }}
    {%- if is_incremental() %}
    where {{ unseen_load('source_load_id') }}
    {%- endif %}

),
{#- the child lists of those candidates only (on a daily run, a few rows of each list) #}
{%- for name, model in [('emails', 'stg_ats__candidate_emails'), ('phones', 'stg_ats__candidate_phones'),
                        ('addresses', 'stg_ats__candidate_addresses'),
                        ('social_profiles', 'stg_ats__candidate_social_profiles'),
                        ('employments', 'stg_ats__candidate_employments')] %}

{{ name }} as (

    select * from {{ ref(model) }}
    {%- if is_incremental() %}
    where candidate_row_id in (select candidate_row_id from candidates)
    {%- endif %}

),
{%- endfor %}

ranked_emails as (

    select
        candidate_row_id,
        trim(email_address) as email,
        row_number() over (
            partition by candidate_row_id
            order by
                case lower(email_type) when 'personal' then 1 when 'other' then 2 when 'work' then 3 else 4 end,
                list_position
        ) as email_rank
    from emails
    where {{ nullif_blank('email_address') }} is not null
        and coalesce(is_valid_email, true)  -- null: loaded before the loader recorded verdicts

),

ranked_phones as (

    select
        candidate_row_id,
        trim(phone_number) as phone,
        row_number() over (partition by candidate_row_id order by list_position) as phone_rank
    from phones
    where {{ nullif_blank('phone_number') }} is not null

),

first_addresses as (

    select
        candidate_row_id,
        trim(address) as address,
        length(address) - length(replace(address, ',', '')) + 1 as part_count
    from (
        select
            candidate_row_id,
            address,
            row_number() over (partition by candidate_row_id order by list_position) as address_rank
        from addresses
        where {{ nullif_blank('address') }} is not null
    ) as ranked
    where address_rank = 1

),

parsed_addresses as (

    select
        candidate_row_id,
        case
            when part_count >= 3 then trim({{ split_part_at('address', "','", 'part_count - 2') }})
            when part_count = 2 then trim({{ dbt.split_part('address', "','", 1) }})
        end as city,
        case
            when part_count >= 3 then trim({{ split_part_at('address', "','", 'part_count - 1') }})
        end as region,
        case
            when part_count >= 2 then trim({{ split_part_at('address', "','", 'part_count') }})
        end as country
    from first_addresses

),

ranked_linkedin as (

    select
        candidate_row_id,
        trim(profile_url) as linkedin_url,
        row_number() over (partition by candidate_row_id order by list_position) as profile_rank
    from social_profiles
    where lower(profile_url) like '%linkedin.%'

),

experience as (

    select
        candidate_row_id,
        min(cast(started_on as timestamp)) as career_started_at
    from employments
    group by candidate_row_id

),

flattened as (

    select
        candidates.candidate_id,
        candidates.first_name,
        candidates.last_name,
        ranked_emails.email,
        ranked_phones.phone,
        parsed_addresses.city,
        parsed_addresses.region,
        parsed_addresses.country,
        ranked_linkedin.linkedin_url,
        candidates.current_title,
        candidates.current_company,
        cast(null as varchar) as skills,
        case
            when experience.career_started_at <= candidates.updated_at
                then floor({{ dbt.datediff('experience.career_started_at', 'candidates.updated_at', 'day') }} / 365.25)
        end as years_experience,
        candidates.updated_at,
        candidates.created_at as first_seen_at,
        coalesce(candidates.last_activity_at, candidates.updated_at) as last_activity_at,
        candidates.source_load_id
    from candidates
    left join ranked_emails
        on candidates.candidate_row_id = ranked_emails.candidate_row_id and ranked_emails.email_rank = 1
    left join ranked_phones
        on candidates.candidate_row_id = ranked_phones.candidate_row_id and ranked_phones.phone_rank = 1
    left join parsed_addresses
        on candidates.candidate_row_id = parsed_addresses.candidate_row_id
    left join ranked_linkedin
        on candidates.candidate_row_id = ranked_linkedin.candidate_row_id and ranked_linkedin.profile_rank = 1
    left join experience
        on candidates.candidate_row_id = experience.candidate_row_id

)

select * from flattened
