-- Per campaign: messages sent, delivered, bounced, opened by people (machine opens apart),
-- clicked, unsubscribed, complaints, and recipients who applied / were hired within the
-- attribution window after the send.
{%- set window_days = var('campaign_attribution_days', 30) %}
with

outreach as (

    select * from {{ ref('fct_outreach') }}
    where outreach_type = 'email'

),

campaigns as (

    select * from {{ ref('stg_campaigns__campaigns') }}

),

applications as (

    select * from {{ ref('int_applications_enriched') }}
    where person_id is not null and not is_prospect

),

recipients as (

    select campaign_id, person_id, min(sent_at) as sent_at
    from outreach
    where person_id is not null and not is_bounced
    group by campaign_id, person_id

),

conversions as (

    select
        recipients.campaign_id,
        cast(count(distinct recipients.person_id) as bigint) as applied_people,
        cast(count(distinct case when applications.status = 'hired' then recipients.person_id end) as bigint)
            as hired_people
    from recipients
    inner join applications
        on recipients.person_id = applications.person_id
        and applications.applied_at >= recipients.sent_at
        and applications.applied_at < {{ dbt.dateadd('day', window_days, 'recipients.sent_at') }}
    group by recipients.campaign_id

),

messages as (

    select
        campaign_id,
        min(sent_at) as first_sent_at,
        cast(count(*) as bigint) as sent,
        cast(sum(case when is_delivered then 1 else 0 end) as bigint) as delivered,
        cast(sum(case when is_bounced then 1 else 0 end) as bigint) as bounced,
        cast(sum(case when is_opened then 1 else 0 end) as bigint) as opened,
        cast(sum(case when is_machine_opened_only then 1 else 0 end) as bigint) as machine_opened_only,
        cast(sum(case when is_clicked then 1 else 0 end) as bigint) as clicked,
        cast(sum(case when is_unsubscribed then 1 else 0 end) as bigint) as unsubscribed,
        cast(sum(case when is_complained then 1 else 0 end) as bigint) as complained
    from outreach
    group by campaign_id

),

final as (

    select
        messages.campaign_id,
        -- a campaign sent from another tool is known only by the id its provider events carry
        coalesce(campaigns.campaign_name, messages.campaign_id) as campaign_name,
        campaigns.campaign_id is not null as is_configured_campaign,
        messages.first_sent_at,
        messages.sent,
        messages.delivered,
        messages.bounced,
        messages.opened,
        messages.machine_opened_only,
        messages.opened + messages.machine_opened_only as opened_including_machine,
        messages.clicked,
        messages.unsubscribed,
        messages.complained,
        case when messages.delivered > 0
            then cast(cast(messages.opened as numeric(14, 4)) / messages.delivered as numeric(10, 4)) end
            as human_open_rate,
        case when messages.delivered > 0
            then cast(cast(messages.clicked as numeric(14, 4)) / messages.delivered as numeric(10, 4)) end
            as click_rate,
        coalesce(conversions.applied_people, 0) as applied_people,
        coalesce(conversions.hired_people, 0) as hired_people
    from messages
    left join campaigns on messages.campaign_id = campaigns.campaign_id
    left join conversions on messages.campaign_id = conversions.campaign_id

)

select * from final
