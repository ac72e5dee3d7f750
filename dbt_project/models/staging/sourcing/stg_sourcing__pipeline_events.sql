{%- set columns = relation_column_names(source('raw_sourcing', 'pipeline_events')) -%}
with

source as (

    {{ select_source_rows(source('raw_sourcing', 'pipeline_events'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'event_seq', 'bigint') }} as pipeline_event_id,
        {{ optional_column(columns, 'pipeline_id', 'bigint') }} as pipeline_id,
        {{ optional_column(columns, 'person_id', 'varchar') }} as person_id,
        {{ optional_column(columns, 'event', 'varchar') }} as event,
        {{ optional_column(columns, 'stage', 'varchar') }} as stage,
        {{ optional_column(columns, 'added_via', 'varchar') }} as added_via,
        {{ optional_column(columns, 'occurred_at', 'timestamp') }} as occurred_at,
        {{ optional_column(columns, 'actor', 'varchar') }} as actor

    from source

)

select * from renamed
