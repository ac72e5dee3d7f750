{#- Every provider email event with the person whose address it was. An address known for several
    people (a shared family mailbox) goes to the lowest person id, so each event counts once. -#}
with

events as (

    select * from {{ ref('stg_email__events') }}

),

addresses as (

    select * from {{ ref('int_candidate_email_addresses') }}

),

address_owner as (

    select email_normalized, min(person_id) as person_id
    from addresses
    group by email_normalized

),

resolved as (

    select
        events.event_id,
        events.received_seq,
        address_owner.person_id,
        events.email_normalized,
        events.campaign_id,
        events.message_id,
        events.event_type,
        events.occurred_at,
        events.url,
        events.bounce_type,
        events.is_machine_open
    from events
    left join address_owner on events.email_normalized = address_owner.email_normalized

)

select * from resolved
