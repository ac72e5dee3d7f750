{%- set columns = relation_column_names(source('raw_ats', 'sources')) -%}
with

source as (

    {{ select_source_rows(source('raw_ats', 'sources'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'id', 'bigint') }} as source_id,
        {{ optional_column(columns, 'name', 'varchar') }} as source_name,
        {{ optional_column(columns, 'type__id', 'bigint') }} as source_type_id,
        {{ optional_column(columns, 'type__name', 'varchar') }} as source_type_name

    from source

)

select * from renamed
