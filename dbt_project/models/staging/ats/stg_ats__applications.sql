{%- set columns = relation_column_names(source('raw_ats', 'applications')) -%}
with

source as (

    {{ select_source_rows(source('raw_ats', 'applications'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'id', 'bigint') }} as application_id,
        {{ optional_column(columns, '_dlt_id', 'varchar') }} as application_row_id,
        {{ optional_column(columns, 'candidate_id', 'bigint') }} as candidate_id,
        coalesce({{ optional_column(columns, 'prospect', 'boolean') }}, false) as is_prospect,
        {{ optional_column(columns, 'status', 'varchar') }} as status,
        {{ optional_column(columns, 'current_stage__id', 'bigint') }} as current_stage_id,
        {{ optional_column(columns, 'current_stage__name', 'varchar') }} as current_stage_name,
        {{ optional_column(columns, 'source__id', 'bigint') }} as source_id,
        {{ optional_column(columns, 'source__public_name', 'varchar') }} as source_name,
        {{ optional_column(columns, 'credited_to__id', 'bigint') }} as credited_to_user_id,
        {{ optional_column(columns, 'rejection_reason__id', 'bigint') }} as rejection_reason_id,
        {{ optional_column(columns, 'rejection_reason__name', 'varchar') }} as rejection_reason_name,
        {{ optional_column(columns, 'rejection_reason__type__name', 'varchar') }} as rejection_reason_type,
        {{ optional_column(columns, 'applied_at', 'timestamp') }} as applied_at,
        {{ optional_column(columns, 'rejected_at', 'timestamp') }} as rejected_at,
        {{ optional_column(columns, 'last_activity_at', 'timestamp') }} as last_activity_at

    from source

)

select * from renamed
