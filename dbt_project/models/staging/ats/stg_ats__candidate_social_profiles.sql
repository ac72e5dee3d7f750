{%- set columns = relation_column_names(source('raw_ats', 'candidates__social_media_addresses')) -%}
with

source as (

    {{ select_source_rows(source('raw_ats', 'candidates__social_media_addresses'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, '_dlt_id', 'varchar') }} as candidate_social_profile_row_id,
        {{ optional_column(columns, '_dlt_parent_id', 'varchar') }} as candidate_row_id,
        {{ optional_column(columns, '_dlt_list_idx', 'integer') }} as list_position,
        {{ optional_column(columns, 'value', 'varchar') }} as profile_url

    from source

)

select * from renamed
