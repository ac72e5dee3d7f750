{%- set columns = relation_column_names(source('raw_forms', 'preference_changes')) -%}
with

source as (

    {{ select_source_rows(source('raw_forms', 'preference_changes'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'change_seq', 'bigint') }} as preference_change_id,
        {{ optional_column(columns, 'email', 'varchar') }} as email,
        {{ canonical_email(optional_column(columns, 'email', 'varchar')) }} as email_normalized,
        {{ optional_column(columns, 'campaign_id', 'varchar') }} as campaign_id,
        {{ optional_column(columns, 'topics', 'varchar') }} as topics,
        {{ optional_column(columns, 'frequency', 'varchar') }} as frequency,
        coalesce({{ optional_column(columns, 'unsubscribed_all', 'integer') }}, 0) = 1 as is_unsubscribed_all,
        {{ optional_column(columns, 'changed_at', 'timestamp') }} as changed_at,
        {{ optional_column(columns, 'source', 'varchar') }} as change_source,
        {{ optional_column(columns, 'ip', 'varchar') }} as ip,
        {{ optional_column(columns, 'user_agent', 'varchar') }} as user_agent

    from source

)

select * from renamed
