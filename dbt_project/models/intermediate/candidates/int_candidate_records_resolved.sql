{#- Every typed source record with the person it was assigned to by identity resolution. -#}
with

records as (

    select * from {{ ref('int_source_records_unioned') }}

),

assignments as (

    select * from {{ ref('stg_identity__source_record_person') }}

),

resolved as (

    select
        assignments.person_id,
        records.*
    from records
    left join assignments
        on records.source = assignments.source
        and records.source_record_id = assignments.source_record_id

)

select * from resolved
