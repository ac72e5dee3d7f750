{#- Every source record, typed: ATS candidates, vendor resumes (source = vendor key) and form
    submissions (source = talent_network | referral). Blank text is null. The text-only
    `int_source_records` (the resolve contract) and the person-level models read this. Incremental
    (macros/incremental.sql): a daily run adds and replaces the records of the day's loads. -#}
{{ source_record_increments(['source', 'source_record_id']) }}
with
{%- for name, model in [('ats_candidates', 'int_ats_candidates_flattened'),
                        ('vendor_resumes', 'int_vendor_resumes_deduplicated'),
                        ('form_submissions', 'stg_forms__submissions')] %}

{{ name }} as (

    select * from {{ ref(model) }}
    {%- if is_incremental() %}
    where {{ unseen_load('source_load_id') }}
    {%- endif %}

),
{%- endfor %}

unioned as (

    select
        'ats' as source,
        'ats' as source_family,
        cast(candidate_id as varchar) as source_record_id,
        first_name, last_name, email, phone, city, region, country, linkedin_url,
        current_title, current_company, skills,
        cast(years_experience as numeric(5, 1)) as years_experience,
        updated_at, first_seen_at, last_activity_at, source_load_id
    from ats_candidates

    union all

    select
        vendor as source,
        'vendor' as source_family,
        vendor_record_id as source_record_id,
        first_name, last_name, email, phone, city, region, country, linkedin_url,
        current_title, current_company, skills,
        cast(years_experience as numeric(5, 1)) as years_experience,
        updated_at,
        first_purchased_at as first_seen_at,
        last_purchased_at as last_activity_at,
        source_load_id
    from vendor_resumes

    union all

    select
        form_name as source,
        'form' as source_family,
        cast(submission_id as varchar) as source_record_id,
        first_name, last_name, email, phone, city, region, country, linkedin_url,
        current_title, current_company, skills,
        cast(years_experience as numeric(5, 1)) as years_experience,
        submitted_at as updated_at,
        submitted_at as first_seen_at,
        coalesce(confirmed_at, submitted_at) as last_activity_at,
        source_load_id
    from form_submissions

),

cleaned as (

    select
        source,
        source_family,
        source_record_id,
        {%- for field in ['first_name', 'last_name', 'email', 'phone', 'city', 'region', 'country',
                          'linkedin_url', 'current_title', 'current_company', 'skills'] %}
        {{ nullif_blank(field) }} as {{ field }},
        {%- endfor %}
        years_experience,
        updated_at,
        first_seen_at,
        last_activity_at,
        {{ source_priority('source') }} as source_priority,
        source_load_id
    from unioned

)

select * from cleaned
