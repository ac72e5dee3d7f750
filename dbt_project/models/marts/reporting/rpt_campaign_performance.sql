-- Per campaign, A/B variant and sequence step: what Warmpool itself sent (the send ledger) and, on
-- top, what the provider reported (delivered, bounced, opened by people with machine opens apart,
-- clicked, unsubscribed, complaints), plus recipients who applied / were hired within the
-- attribution window after the send. Messages the ledger does not know (campaigns sent from another
-- tool) are counted from their provider events alone.
{%- set window_days = var('campaign_attribution_days', 30) %}
with

outreach as (

    select
        *,
        lower(trim(message_id, '<> ')) as message_key
    from {{ ref('fct_outreach') }}
    where outreach_type = 'email'

),

campaigns as (

    select * from {{ ref('stg_campaigns__campaigns') }}

),

ledger as (

    select * from {{ ref('stg_campaigns__sends') }}

),

applications as (

    select * from {{ ref('int_applications_enriched') }}
    where person_id is not null and not is_prospect

),

ledger_messages as (

    select message_key, min(variant) as variant, min(sequence_step) as sequence_step
    from ledger
    where message_key is not null and send_state in ('accepted', 'ambiguous')
    group by message_key

),

-- every provider-reported message, with its variant and step when Warmpool sent it
messages as (

    select
        outreach.*,
        ledger_messages.variant,
        ledger_messages.sequence_step,
        ledger_messages.message_key is not null as is_ledger_message
    from outreach
    left join ledger_messages on outreach.message_key = ledger_messages.message_key

),

ledger_counts as (

    select
        campaign_id,
        variant,
        sequence_step,
        min(submitted_at) filter (where send_state = 'accepted') as first_sent_at,
        cast(count(*) filter (where send_state = 'accepted') as bigint) as sent,
        cast(count(*) as bigint) as planned,
        cast(count(*) filter (where send_state = 'suppressed') as bigint) as suppressed_at_send,
        cast(count(*) filter (where send_state = 'ambiguous') as bigint) as ambiguous,
        cast(count(*) filter (where send_state = 'failed') as bigint) as failed,
        cast(count(*) filter (where send_state = 'planned') as bigint) as waiting
    from ledger
    group by campaign_id, variant, sequence_step

),

event_counts as (

    select
        campaign_id,
        variant,
        sequence_step,
        min(sent_at) filter (where not is_ledger_message) as first_sent_at,
        cast(count(*) filter (where not is_ledger_message) as bigint) as sent_elsewhere,
        cast(sum(case when is_delivered then 1 else 0 end) as bigint) as delivered,
        cast(sum(case when is_bounced then 1 else 0 end) as bigint) as bounced,
        cast(sum(case when is_opened then 1 else 0 end) as bigint) as opened,
        cast(sum(case when is_machine_opened_only then 1 else 0 end) as bigint) as machine_opened_only,
        cast(sum(case when is_clicked then 1 else 0 end) as bigint) as clicked,
        cast(sum(case when is_unsubscribed then 1 else 0 end) as bigint) as unsubscribed,
        cast(sum(case when is_complained then 1 else 0 end) as bigint) as complained
    from messages
    group by campaign_id, variant, sequence_step

),

-- who received it: from the ledger for Warmpool's sends, from provider events for the rest
recipients as (

    select campaign_id, variant, sequence_step, person_id, min(submitted_at) as sent_at
    from ledger
    where send_state = 'accepted' and person_id is not null
    group by campaign_id, variant, sequence_step, person_id

    union all

    select campaign_id, variant, sequence_step, person_id, min(sent_at) as sent_at
    from messages
    where not is_ledger_message and person_id is not null and not is_bounced
    group by campaign_id, variant, sequence_step, person_id

),

conversions as (

    select
        recipients.campaign_id,
        recipients.variant,
        recipients.sequence_step,
        cast(count(distinct recipients.person_id) as bigint) as applied_people,
        cast(count(distinct case when applications.status = 'hired' then recipients.person_id end) as bigint)
            as hired_people
    from recipients
    inner join applications
        on recipients.person_id = applications.person_id
        and applications.applied_at >= recipients.sent_at
        and applications.applied_at < {{ dbt.dateadd('day', window_days, 'recipients.sent_at') }}
    group by recipients.campaign_id, recipients.variant, recipients.sequence_step

),

keys as (

    select campaign_id, variant, sequence_step from ledger_counts
    union
    select campaign_id, variant, sequence_step from event_counts

),

counted as (

    select
        keys.campaign_id,
        keys.variant,
        keys.sequence_step,
        least(ledger_counts.first_sent_at, event_counts.first_sent_at) as first_sent_at,
        coalesce(ledger_counts.sent, 0) + coalesce(event_counts.sent_elsewhere, 0) as sent,
        coalesce(ledger_counts.sent, 0) as sent_by_warmpool,
        coalesce(ledger_counts.planned, 0) as planned,
        coalesce(ledger_counts.suppressed_at_send, 0) as suppressed_at_send,
        coalesce(ledger_counts.ambiguous, 0) as ambiguous,
        coalesce(ledger_counts.failed, 0) as failed,
        coalesce(ledger_counts.waiting, 0) as waiting,
        coalesce(event_counts.delivered, 0) as delivered,
        coalesce(event_counts.bounced, 0) as bounced,
        coalesce(event_counts.opened, 0) as opened,
        coalesce(event_counts.machine_opened_only, 0) as machine_opened_only,
        coalesce(event_counts.clicked, 0) as clicked,
        coalesce(event_counts.unsubscribed, 0) as unsubscribed,
        coalesce(event_counts.complained, 0) as complained
    from keys
    left join ledger_counts
        on keys.campaign_id = ledger_counts.campaign_id
        and keys.variant is not distinct from ledger_counts.variant
        and keys.sequence_step is not distinct from ledger_counts.sequence_step
    left join event_counts
        on keys.campaign_id = event_counts.campaign_id
        and keys.variant is not distinct from event_counts.variant
        and keys.sequence_step is not distinct from event_counts.sequence_step

),

final as (

    select
        counted.campaign_id,
        -- a campaign sent from another tool is known only by the id its provider events carry
        coalesce(campaigns.campaign_name, counted.campaign_id) as campaign_name,
        campaigns.campaign_id is not null as is_configured_campaign,
        counted.variant,
        counted.sequence_step,
        counted.first_sent_at,
        counted.sent,
        counted.sent_by_warmpool,
        counted.planned,
        counted.suppressed_at_send,
        counted.ambiguous,
        counted.failed,
        counted.waiting,
        counted.delivered,
        counted.bounced,
        counted.opened,
        counted.machine_opened_only,
        counted.opened + counted.machine_opened_only as opened_including_machine,
        counted.clicked,
        counted.unsubscribed,
        counted.complained,
        case when counted.delivered > 0
            then cast(cast(counted.opened as numeric(14, 4)) / counted.delivered as numeric(10, 4)) end
            as human_open_rate,
        case when counted.delivered > 0
            then cast(cast(counted.clicked as numeric(14, 4)) / counted.delivered as numeric(10, 4)) end
            as click_rate,
        coalesce(conversions.applied_people, 0) as applied_people,
        coalesce(conversions.hired_people, 0) as hired_people
    from counted
    left join campaigns on counted.campaign_id = campaigns.campaign_id
    left join conversions
        on counted.campaign_id = conversions.campaign_id
        and counted.variant is not distinct from conversions.variant
        and counted.sequence_step is not distinct from conversions.sequence_step

)

select * from final
