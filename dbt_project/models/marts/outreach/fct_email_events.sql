with

events as (

    select * from {{ ref('int_email_events_resolved') }}

),

final as (

    select
        event_id,
        received_seq,
        person_id,
        email_normalized,
        campaign_id,
        message_id,
        event_type,
        occurred_at,
        url,
        bounce_type,
        is_machine_open,
        event_type = 'open' and not is_machine_open as is_human_open,
        event_type in ('unsubscribe', 'complaint') or (event_type = 'bounce' and bounce_type = 'hard')
            as is_suppressing
    from events

)

select * from final
