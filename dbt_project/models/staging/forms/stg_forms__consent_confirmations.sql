{%- set columns = relation_column_names(source('raw_forms', 'consent_confirmations')) -%}
with

source as (

    {{ select_source_rows(source('raw_forms', 'consent_confirmations'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'confirmation_seq', 'bigint') }} as confirmation_id,
        {{ optional_column(columns, 'submission_id', 'bigint') }} as submission_id,
        {{ optional_column(columns, 'confirmed_at', 'timestamp') }} as confirmed_at,
        {{ optional_column(columns, 'ip', 'varchar') }} as ip,
        {{ optional_column(columns, 'user_agent', 'varchar') }} as user_agent

    from source

)

select * from renamed
