{%- set columns = relation_column_names(source('raw_eeo', 'self_identification')) -%}
with

source as (

    {{ select_source_rows(source('raw_eeo', 'self_identification'), columns) }}

),

renamed as (

    select
        {{ optional_column(columns, 'application_id', 'bigint') }} as application_id,
        {{ optional_column(columns, 'submitted_at', 'timestamp') }} as submitted_at,
        coalesce({{ optional_column(columns, 'race__description', 'varchar') }}, 'Not answered') as race,
        coalesce({{ optional_column(columns, 'gender__description', 'varchar') }}, 'Not answered') as gender,
        coalesce({{ optional_column(columns, 'veteran_status__message', 'varchar') }}, 'Not answered') as veteran_status,
        coalesce({{ optional_column(columns, 'disability_status__description', 'varchar') }}, 'Not answered')
            as disability_status

    from source

)

select * from renamed
