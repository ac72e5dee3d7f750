{%- set columns = relation_column_names(source('raw_forms', 'erasure_requests')) -%}
with

source as (

    {{ select_source_rows(source('raw_forms', 'erasure_requests'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'request_seq', 'bigint') }} as erasure_request_id,
        {{ optional_column(columns, 'email', 'varchar') }} as email,
        {{ normalize_email(optional_column(columns, 'email', 'varchar')) }} as email_normalized,
        {{ optional_column(columns, 'requested_at', 'timestamp') }} as requested_at

    from source

)

select * from renamed
