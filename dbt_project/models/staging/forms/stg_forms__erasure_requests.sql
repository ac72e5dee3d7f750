{%- set columns = relation_column_names(source('raw_forms', 'erasure_requests')) -%}
with

source as (

    {{ select_source_rows(source('raw_forms', 'erasure_requests'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'request_seq', 'bigint') }} as erasure_request_id,
        {{ optional_column(columns, 'email', 'varchar') }} as email,
        {{ canonical_email(optional_column(columns, 'email', 'varchar')) }} as email_normalized,
        {{ optional_column(columns, 'requested_at', 'timestamp') }} as requested_at,
        {{ optional_column(columns, 'person_id', 'varchar') }} as link_person_id,
        {{ optional_column(columns, 'campaign_id', 'varchar') }} as campaign_id,
        {{ optional_column(columns, 'source', 'varchar') }} as request_source,
        {{ optional_column(columns, 'ip', 'varchar') }} as ip,
        {{ optional_column(columns, 'user_agent', 'varchar') }} as user_agent

    from source

)

select * from renamed
