{#- Every touch between Warmpool and a person, one row each: a record entering the pool (ATS
    profile created, resume bought, form submitted), an application, an email delivered, a human
    open or a click. Machine opens (privacy-protection prefetch) are not touches. `engagement_weight`
    is what the touch says about the person's interest (0 = something done TO them). -#}
with

records as (

    select * from {{ ref('int_candidate_records_resolved') }}
    where person_id is not null

),

applications as (

    select * from {{ ref('int_applications_enriched') }}
    where person_id is not null

),

email_events as (

    select * from {{ ref('int_email_events_resolved') }}
    where person_id is not null

),

touches as (

    select
        person_id,
        first_seen_at as touched_at,
        case source_family
            when 'ats' then 'ats_profile_created'
            when 'vendor' then 'resume_purchased'
            else 'form_submitted'
        end as touch_type,
        source,
        cast(null as varchar) as ats_source_name,
        cast(null as varchar) as campaign_id,
        source || ':' || source_record_id as touch_key,
        case when source_family = 'form' then {{ var('engagement_weight_form', 5) }} else 0 end as engagement_weight
    from records

    union all

    select
        person_id,
        applied_at,
        case when is_prospect then 'prospect_added' else 'applied' end,
        'ats',
        source_name,
        cast(null as varchar),
        'application:' || cast(application_id as varchar),
        case when is_prospect then 0 else {{ var('engagement_weight_application', 5) }} end
    from applications
    where applied_at is not null

    union all

    select
        person_id,
        occurred_at,
        case event_type when 'delivered' then 'email_delivered' when 'open' then 'email_opened' else 'email_clicked' end,
        'email',
        cast(null as varchar),
        campaign_id,
        'email_event:' || event_id,
        case event_type
            when 'open' then {{ var('engagement_weight_open', 1) }}
            when 'click' then {{ var('engagement_weight_click', 3) }}
            else 0
        end
    from email_events
    where event_type in ('delivered', 'click') or (event_type = 'open' and not is_machine_open)

)

select * from touches
where touched_at is not null
