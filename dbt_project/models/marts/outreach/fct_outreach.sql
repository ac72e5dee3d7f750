-- Every outreach to a person: each email message sent by a campaign (with what happened to it) and
-- each recruiter touch (a prospect added or a sourced application credited to a recruiter).
with

events as (

    select * from {{ ref('int_email_events_resolved') }}

),

applications as (

    select * from {{ ref('int_applications_enriched') }}

),

channels as (

    select * from {{ ref('ats_source_channels') }}

),

messages as (

    select
        coalesce(message_id, campaign_id || ':' || email_normalized) as message_key,
        min(person_id) as person_id,
        min(email_normalized) as email_normalized,
        min(campaign_id) as campaign_id,
        min(occurred_at) as sent_at,
        max(case when event_type = 'delivered' then 1 else 0 end) = 1 as is_delivered,
        max(case when event_type = 'bounce' then 1 else 0 end) = 1 as is_bounced,
        max(case when event_type = 'open' and not is_machine_open then 1 else 0 end) = 1 as is_opened,
        max(case when event_type = 'open' and is_machine_open then 1 else 0 end) = 1 as is_machine_opened,
        max(case when event_type = 'click' then 1 else 0 end) = 1 as is_clicked,
        max(case when event_type = 'unsubscribe' then 1 else 0 end) = 1 as is_unsubscribed,
        max(case when event_type = 'complaint' then 1 else 0 end) = 1 as is_complained
    from events
    group by coalesce(message_id, campaign_id || ':' || email_normalized)

),

recruiter_touches as (

    select
        'application:' || cast(applications.application_id as varchar) as outreach_id,
        case when applications.is_prospect then 'prospect_added' else 'sourced_application' end as outreach_type,
        applications.person_id,
        cast(null as varchar) as email_normalized,
        cast(null as varchar) as campaign_id,
        cast(null as varchar) as message_id,
        applications.credited_to_user_id as recruiter_user_id,
        applications.application_id,
        applications.applied_at as sent_at
    from applications
    left join channels on applications.source_name = channels.source_name
    where applications.credited_to_user_id is not null
        and (applications.is_prospect or channels.channel = 'sourced')

),

final as (

    select
        'email:' || message_key as outreach_id,
        'email' as outreach_type,
        person_id,
        email_normalized,
        campaign_id,
        message_key as message_id,
        cast(null as bigint) as recruiter_user_id,
        cast(null as bigint) as application_id,
        sent_at,
        is_delivered,
        is_bounced,
        is_opened,
        is_machine_opened and not is_opened as is_machine_opened_only,
        is_clicked,
        is_unsubscribed,
        is_complained
    from messages

    union all

    select
        outreach_id,
        outreach_type,
        person_id,
        email_normalized,
        campaign_id,
        message_id,
        recruiter_user_id,
        application_id,
        sent_at,
        cast(null as boolean),
        cast(null as boolean),
        cast(null as boolean),
        cast(null as boolean),
        cast(null as boolean),
        cast(null as boolean),
        cast(null as boolean)
    from recruiter_touches

)

select * from final
