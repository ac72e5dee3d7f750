with

sources as (

    select * from {{ ref('stg_ats__sources') }}

),

channels as (

    select * from {{ ref('ats_source_channels') }}

),

contracts as (

    select vendor, max(vendor_name) as vendor_name, max(vendor_kind) as vendor_kind,
        max(cost_per_resume) as cost_per_resume, max(annual_fee) as annual_fee
    from {{ ref('stg_vendors__contracts') }}
    group by vendor

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
        coalesce(channels.channel, 'inbound') as channel,
        channels.vendor,
        contracts.vendor_name,
        contracts.vendor_kind,
        coalesce(channels.cost_model, case when channels.vendor is not null then 'per_resume' else 'unknown' end)
            as cost_model,
        contracts.cost_per_resume,
        contracts.annual_fee,
        coalesce(source_applications.application_count, 0) as application_count,
        coalesce(source_applications.hire_count, 0) as hire_count
    from sources
    left join source_applications on sources.source_id = source_applications.source_id
    left join channels on sources.source_name = channels.source_name
    left join contracts on channels.vendor = contracts.vendor

)

select * from final
