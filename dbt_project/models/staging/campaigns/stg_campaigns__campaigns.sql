{%- set columns = relation_column_names(source('raw_campaigns', 'campaigns')) -%}
with

source as (

    {{ select_source_rows(source('raw_campaigns', 'campaigns'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'campaign_id', 'varchar') }} as campaign_id,
        {{ optional_column(columns, 'name', 'varchar') }} as campaign_name,
        {{ optional_column(columns, 'kind', 'varchar') }} as campaign_kind,
        {{ optional_column(columns, 'subject', 'varchar') }} as subject,
        {{ optional_column(columns, 'template', 'varchar') }} as template,
        {{ optional_column(columns, 'content_version', 'varchar') }} as content_version,
        {{ optional_column(columns, 'starts_at', 'timestamp') }} as starts_at,
        {{ nullif_blank(optional_column(columns, 'segment', 'varchar')) }} as segment

    from source

)

select * from renamed
