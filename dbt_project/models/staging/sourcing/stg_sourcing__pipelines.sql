{%- set columns = relation_column_names(source('raw_sourcing', 'pipelines')) -%}
with

source as (

    {{ select_source_rows(source('raw_sourcing', 'pipelines'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'pipeline_id', 'bigint') }} as pipeline_id,
        {{ optional_column(columns, 'name', 'varchar') }} as pipeline_name,
        {{ optional_column(columns, 'job_id', 'bigint') }} as job_id,
        {{ optional_column(columns, 'owner', 'varchar') }} as owner,
        {{ optional_column(columns, 'created_at', 'timestamp') }} as created_at

    from source

)

select * from renamed
