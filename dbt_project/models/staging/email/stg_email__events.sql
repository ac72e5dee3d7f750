{%- set columns = relation_column_names(source('raw_email', 'email_events')) -%}
with

source as (

    {{ select_source_rows(source('raw_email', 'email_events'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'provider_event_id', 'varchar') }} as event_id,
        {{ optional_column(columns, 'received_seq', 'bigint') }} as received_seq,
        {{ optional_column(columns, 'provider', 'varchar') }} as provider,
        {{ optional_column(columns, 'event', 'varchar') }} as event_type,
        {{ optional_column(columns, 'email', 'varchar') }} as email,
        {{ canonical_email(optional_column(columns, 'email', 'varchar')) }} as email_normalized,
        {{ optional_column(columns, 'campaign_id', 'varchar') }} as campaign_id,
        {{ optional_column(columns, 'message_id', 'varchar') }} as message_id,
        {{ optional_column(columns, 'occurred_at', 'timestamp') }} as occurred_at,
        {{ optional_column(columns, 'url', 'varchar') }} as url,
        lower({{ optional_column(columns, 'bounce_type', 'varchar') }}) as bounce_type,
        coalesce({{ optional_column(columns, 'is_machine_open', 'integer') }}, 0) = 1 as is_machine_open

    from source

)

select * from renamed
