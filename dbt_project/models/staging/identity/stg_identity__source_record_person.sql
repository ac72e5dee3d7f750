{%- set columns = relation_column_names(source('identity', 'source_record_person')) -%}
with

source as (

    select * from {{ source('identity', 'source_record_person') }}

),

renamed as (

    select
        cast(source as varchar) as source,
        cast(source_record_id as varchar) as source_record_id,
        cast(person_id as varchar) as person_id,
        {{ optional_column(columns, 'cluster_size', 'integer') }} as cluster_size,
        {{ optional_column(columns, 'resolved_at', 'timestamp') }} as resolved_at

    from source

)

select * from renamed
