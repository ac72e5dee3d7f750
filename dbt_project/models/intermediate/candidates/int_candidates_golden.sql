{#- One row per person: the golden profile (survivorship in the model's YAML), the job family,
    the person's sources and first / last activity. -#}
with

records as (

    select * from {{ ref('int_candidate_records_resolved') }}
    where person_id is not null

),

applications as (

    select * from {{ ref('int_applications_enriched') }}

),

addresses as (

    select * from {{ ref('int_candidate_email_addresses') }}

),

email_events as (

    select * from {{ ref('stg_email__events') }}

),

form_submissions as (

    select * from {{ ref('stg_forms__submissions') }}

),

job_family_keywords as (

    select * from {{ ref('job_family_keywords') }}

),

place_spellings as (

    select * from {{ ref('int_place_spellings') }}

),

skill_spellings as (

    select * from {{ ref('int_skill_spellings') }}

),

ats_records as (

    select * from records where source = 'ats'

),

normalised_records as (

    -- every record's place in the normalised dimensions (ISO country, ISO 3166-2 region, GeoNames
    -- city) and its skills in the skill vocabulary
    select
        records.person_id,
        records.source,
        records.source_record_id,
        records.source_priority,
        records.updated_at,
        place_spellings.city,
        place_spellings.region,
        place_spellings.country_code,
        place_spellings.country_name,
        skill_spellings.skills
    from records
    left join place_spellings
        on records.city is not distinct from place_spellings.city_as_written
        and records.region is not distinct from place_spellings.region_as_written
        and records.country is not distinct from place_spellings.country_as_written
    left join skill_spellings on records.skills = skill_spellings.skills_as_written

),

people as (

    select
        person_id,
        count(*) as record_count,
        count(distinct source) as source_count,
        min(first_seen_at) as first_seen_at,
        max(case when source = 'ats' then 1 else 0 end) = 1 as has_ats_record,
        min(case when source = 'ats' then first_seen_at end) as ats_first_seen_at,
        max(case when country is not null then 1 else 0 end) = 1 as has_stated_country
    from records
    group by person_id

),

person_sources as (

    select
        person_id,
        {{ dbt.listagg('source', "';'", 'order by source') }} as sources
    from (select distinct person_id, source from records) as distinct_sources
    group by person_id

),

-- survivorship, one rule per field group (documented in the model's YAML)
golden_first_name as ({{ voted_name('records', 'first_name', 'first') }}),
golden_last_name as ({{ voted_name('records', 'last_name', 'last') }}),
golden_email as ({{ survivor('records', ['email'],
    rank_by=['source_priority', 'updated_at desc nulls last'], alias='email') }}),
golden_phone as ({{ survivor('records', ['phone']) }}),
golden_location as ({{ survivor('normalised_records', ['city', 'region', 'country_code', 'country_name'],
    ['city', 'country_code'],
    rank_by=['updated_at desc nulls last',
             '(case when city is null then 0 else 1 end + case when region is null then 0 else 1 end'
             ~ ' + case when country_code is null then 0 else 1 end) desc', 'source_priority'], alias='location') }}),
golden_country as ({{ survivor('normalised_records', ['country_code', 'country_name']) }}),
golden_linkedin as ({{ survivor('records', ['linkedin_url'], rank_by=['source_priority', 'updated_at desc nulls last']) }}),
golden_job as ({{ survivor('records', ['current_title', 'current_company'], ['current_title'],
    rank_by=['updated_at desc nulls last', 'case when current_company is null then 1 else 0 end',
             'source_priority'], alias='job') }}),
golden_skills as ({{ survivor('normalised_records', ['skills'],
    rank_by=["length(skills) - length(replace(skills, ';', '')) desc", 'updated_at desc nulls last',
             'source_priority'], alias='skills') }}),
golden_experience as ({{ survivor('records', ['years_experience']) }}),
ats_email as ({{ survivor('ats_records', ['email'], alias='ats_email') }}),

applied_job_family as (

    -- ATS candidates: the job family of the most recently applied-to job that has one
    select person_id, job_family
    from (
        select
            person_id,
            job_family,
            row_number() over (
                partition by person_id order by applied_at desc nulls last, application_id desc
            ) as family_rank
        from applications
        where person_id is not null and job_family is not null
    ) as ranked
    where family_rank = 1

),

stated_job_family as (

    -- talent-network sign-ups: the first job family named in the person's latest submission
    select person_id, job_family
    from (
        select
            records.person_id,
            {{ job_family(dbt.split_part('forms.job_families', "';'", 1)) }} as job_family,
            row_number() over (
                partition by records.person_id order by forms.submitted_at desc, forms.submission_id desc
            ) as family_rank
        from records
        inner join form_submissions as forms
            on records.source = forms.form_name
            and records.source_record_id = cast(forms.submission_id as varchar)
        where {{ nullif_blank('forms.job_families') }} is not null
    ) as ranked
    where family_rank = 1

),

title_job_family as (

    -- everyone else: keywords in the golden title (seed job_family_keywords, lowest priority wins)
    select person_id, job_family
    from (
        select
            golden_job.person_id,
            {{ job_family('job_family_keywords.job_family') }} as job_family,
            row_number() over (
                partition by golden_job.person_id
                order by job_family_keywords.priority, job_family_keywords.keyword
            ) as keyword_rank
        from golden_job
        inner join job_family_keywords
            on ' ' || lower(golden_job.current_title) || ' ' like '%' || lower(job_family_keywords.keyword) || '%'
    ) as ranked
    where keyword_rank = 1

),

activity as (

    select person_id, last_activity_at as activity_at from records
    union all
    select person_id, last_activity_at from applications where person_id is not null
    union all
    select addresses.person_id, email_events.occurred_at
    from email_events
    inner join addresses on email_events.email_normalized = addresses.email_normalized
    where email_events.event_type in ('open', 'click') and not email_events.is_machine_open

),

last_activity as (

    select person_id, max(activity_at) as last_activity_at
    from activity
    group by person_id

),

golden as (

    select
        people.person_id,
        golden_first_name.first_name,
        golden_last_name.last_name,
        golden_email.email,
        ats_email.email as ats_email,
        golden_phone.phone,
        golden_location.city,
        golden_location.region,
        coalesce(golden_location.country_code, golden_country.country_code) as country_code,
        people.has_stated_country,
        case when golden_location.country_code is not null then golden_location.country_name
            else golden_country.country_name end as country,
        golden_linkedin.linkedin_url,
        golden_job.current_title,
        golden_job.current_company,
        golden_skills.skills,
        golden_experience.years_experience,
        case
            when ' ' || lower(golden_job.current_title) || ' ' like '% intern %' then 'intern'
            when ' ' || lower(golden_job.current_title) || ' ' like '% junior %'
                or ' ' || lower(golden_job.current_title) || ' ' like '% jr%' then 'junior'
            when lower(golden_job.current_title) like '%chief %' or lower(golden_job.current_title) like '%vp %'
                or lower(golden_job.current_title) like '%vice president%' or lower(golden_job.current_title) like '%director%'
                or lower(golden_job.current_title) like '%head of%' then 'executive'
            when ' ' || lower(golden_job.current_title) || ' ' like '% lead %'
                or lower(golden_job.current_title) like '%principal%' or lower(golden_job.current_title) like '%staff %'
                or lower(golden_job.current_title) like '%manager%' then 'lead'
            when ' ' || lower(golden_job.current_title) || ' ' like '% senior %'
                or ' ' || lower(golden_job.current_title) || ' ' like '% sr%' then 'senior'
            when golden_experience.years_experience >= 8 then 'senior'
            when golden_experience.years_experience >= 3 then 'mid'
            when golden_experience.years_experience is not null then 'junior'
        end as seniority,
        coalesce(applied_job_family.job_family, stated_job_family.job_family, title_job_family.job_family) as job_family,
        person_sources.sources,
        people.source_count,
        people.record_count,
        people.has_ats_record,
        people.ats_first_seen_at,
        people.first_seen_at,
        last_activity.last_activity_at,
        golden_first_name.first_name_source as name_source,
        golden_email.email_source,
        golden_location.location_source,
        golden_job.job_source,
        golden_skills.skills_source
    from people
    left join person_sources on people.person_id = person_sources.person_id
    left join golden_first_name on people.person_id = golden_first_name.person_id
    left join golden_last_name on people.person_id = golden_last_name.person_id
    left join golden_email on people.person_id = golden_email.person_id
    left join golden_phone on people.person_id = golden_phone.person_id
    left join golden_location on people.person_id = golden_location.person_id
    left join golden_country on people.person_id = golden_country.person_id
    left join golden_linkedin on people.person_id = golden_linkedin.person_id
    left join golden_job on people.person_id = golden_job.person_id
    left join golden_skills on people.person_id = golden_skills.person_id
    left join golden_experience on people.person_id = golden_experience.person_id
    left join ats_email on people.person_id = ats_email.person_id
    left join applied_job_family on people.person_id = applied_job_family.person_id
    left join stated_job_family on people.person_id = stated_job_family.person_id
    left join title_job_family on people.person_id = title_job_family.person_id
    left join last_activity on people.person_id = last_activity.person_id

)

select * from golden
