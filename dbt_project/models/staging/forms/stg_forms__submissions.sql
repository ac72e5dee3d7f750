{%- set columns = relation_column_names(source('raw_forms', 'form_submissions')) -%}
with

source as (

    {{ select_source_rows(source('raw_forms', 'form_submissions'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'submission_id', 'bigint') }} as submission_id,
        {{ optional_column(columns, 'form', 'varchar') }} as form_name,
        {{ optional_column(columns, 'submitted_at', 'timestamp') }} as submitted_at,
        {{ optional_column(columns, 'first_name', 'varchar') }} as first_name,
        {{ optional_column(columns, 'last_name', 'varchar') }} as last_name,
        {{ optional_column(columns, 'email', 'varchar') }} as email,
        {{ optional_column(columns, 'phone', 'varchar') }} as phone,
        {{ optional_column(columns, 'city', 'varchar') }} as city,
        {{ optional_column(columns, 'region', 'varchar') }} as region,
        {{ optional_column(columns, 'country', 'varchar') }} as country,
        {{ optional_column(columns, 'linkedin_url', 'varchar') }} as linkedin_url,
        {{ optional_column(columns, 'current_title', 'varchar') }} as current_title,
        {{ optional_column(columns, 'current_company', 'varchar') }} as current_company,
        {{ optional_column(columns, 'skills', 'varchar') }} as skills,
        {{ optional_column(columns, 'job_families', 'varchar') }} as job_families,
        {{ dbt.safe_cast(optional_column(columns, 'years_experience', 'varchar'), 'numeric(5, 1)') }} as years_experience,
        {{ optional_column(columns, 'resume_text', 'varchar') }} as resume_text,
        coalesce({{ optional_column(columns, 'consent_marketing', 'integer') }}, 0) = 1 as has_marketing_consent,
        {{ optional_column(columns, 'consent_wording_version', 'varchar') }} as consent_wording_version,
        {{ optional_column(columns, 'consent_wording_hash', 'varchar') }} as consent_wording_hash,
        {{ optional_column(columns, 'confirmed_at', 'timestamp') }} as confirmed_at,
        {{ optional_column(columns, 'ip', 'varchar') }} as ip,
        {{ optional_column(columns, 'user_agent', 'varchar') }} as user_agent,
        {{ optional_column(columns, 'referrer_name', 'varchar') }} as referrer_name,
        {{ optional_column(columns, 'referrer_email', 'varchar') }} as referrer_email,
        {{ optional_column(columns, 'relationship', 'varchar') }} as referrer_relationship,
        {{ optional_column(columns, '_dlt_load_id', 'varchar') }} as source_load_id

    from source

)

select * from renamed
