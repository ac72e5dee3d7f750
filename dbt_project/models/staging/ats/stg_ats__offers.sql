{%- set columns = relation_column_names(source('raw_ats', 'offers')) -%}
with

source as (

    {{ select_source_rows(source('raw_ats', 'offers'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'id', 'bigint') }} as offer_id,
        {{ optional_column(columns, 'version', 'integer') }} as offer_version,
        {{ optional_column(columns, 'application_id', 'bigint') }} as application_id,
        {{ optional_column(columns, 'candidate_id', 'bigint') }} as candidate_id,
        {{ optional_column(columns, 'job_id', 'bigint') }} as job_id,
        {{ optional_column(columns, 'status', 'varchar') }} as status,
        {{ optional_column(columns, 'created_at', 'timestamp') }} as created_at,
        {{ optional_column(columns, 'updated_at', 'timestamp') }} as updated_at,
        {{ optional_column(columns, 'sent_at', 'timestamp') }} as sent_at,
        {{ optional_column(columns, 'resolved_at', 'timestamp') }} as resolved_at,
        {{ dbt.safe_cast(optional_column(columns, 'starts_at', 'varchar'), 'date') }} as starts_on

    from source

)

select * from renamed
