{#- The consent ledger (the requested / confirmed / withdrawn rows of int_candidate_consent_events):
    demonstrable consent and its withdrawal; bounces (deliverability) are not consent events.
    Holds IP addresses and user agents: not exported to the dashboards (assets/warehouse.py). -#}
with

events as (

    select * from {{ ref('int_candidate_consent_events') }}
    where event in ('requested', 'confirmed', 'withdrawn')

),

final as (

    select
        consent_event_id,
        person_id,
        email,
        event,
        occurred_at,
        channel,
        wording_version,
        wording_hash,
        ip,
        user_agent,
        submission_id,
        provider_event_id,
        campaign_id
    from events

)

select * from final
