with

sources as (

    select * from {{ ref('stg_ats__sources') }}

),

applications as (

    select * from {{ ref('int_applications_enriched') }}

),

source_applications as (

    select
        source_id,
        cast(count(*) as bigint) as application_count,
        cast(sum(case when status = 'hired' then 1 else 0 end) as bigint) as hire_count
    from applications
    where source_id is not null
    group by source_id

),

final as (

    select
        sources.source_id,
        sources.source_name,
        sources.source_type_name as source_type,
        coalesce(source_applications.application_count, 0) as application_count,
        coalesce(source_applications.hire_count, 0) as hire_count
    from sources
    left join source_applications on sources.source_id = source_applications.source_id

)

select * from final
