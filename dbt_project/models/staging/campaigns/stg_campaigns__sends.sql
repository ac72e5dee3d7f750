{%- set columns = relation_column_names(source('raw_sends', 'sends')) -%}
with

source as (

    {{ select_source_rows(source('raw_sends', 'sends'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'ledger_row_id', 'bigint') }} as ledger_row_id,
        {{ optional_column(columns, 'campaign_id', 'varchar') }} as campaign_id,
        {{ optional_column(columns, 'person_id', 'varchar') }} as person_id,
        {{ optional_column(columns, 'content_version', 'varchar') }} as content_version,
        {{ nullif_blank(optional_column(columns, 'variant', 'varchar')) }} as variant,
        {{ optional_column(columns, 'sequence_step', 'integer') }} as sequence_step,
        {{ optional_column(columns, 'state', 'varchar') }} as send_state,
        {{ optional_column(columns, 'message_id', 'varchar') }} as message_id,
        -- the key provider events are matched on: Message-IDs come with or without angle brackets
        lower(trim({{ optional_column(columns, 'message_id', 'varchar') }}, '<> ')) as message_key,
        {{ optional_column(columns, 'planned_at', 'timestamp') }} as planned_at,
        {{ optional_column(columns, 'submitted_at', 'timestamp') }} as submitted_at,
        {{ optional_column(columns, 'finished_at', 'timestamp') }} as finished_at

    from source

)

select * from renamed
