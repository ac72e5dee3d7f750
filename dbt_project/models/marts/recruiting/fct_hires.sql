-- One row per hire with its source attribution: the ATS source credited, the first and the last
-- touch before the hire, and every source that touched the person (fct_hire_touches has each touch).
with

hires as (

    select * from {{ ref('int_hires') }}

),

applications as (

    select * from {{ ref('int_applications_enriched') }}

),

touches as (

    select * from {{ ref('int_hire_touches') }}

),

channels as (

    select * from {{ ref('ats_source_channels') }}

),

first_touches as (

    select * from touches where touch_number = 1

),

last_touches as (

    select * from touches where touch_number = touch_count

),

touched_sources as (

    select
        application_id,
        {{ dbt.listagg('source', "';'", 'order by source') }} as touched_sources
    from (select distinct application_id, source from touches) as distinct_sources
    group by application_id

),

final as (

    select
        hires.application_id,
        hires.person_id,
        hires.candidate_id,
        hires.job_id,
        applications.job_family,
        hires.hire_basis,
        applications.applied_at,
        hires.hired_at,
        case when applications.applied_at is not null
            then {{ days_between('applications.applied_at', 'hires.hired_at') }} end as days_to_hire,
        applications.source_id,
        applications.source_name,
        coalesce(channels.channel, 'inbound') as channel,
        channels.vendor,
        applications.credited_to_user_id,
        first_touches.touched_at as first_touch_at,
        first_touches.touch_type as first_touch_type,
        first_touches.source as first_touch_source,
        coalesce(first_touches.ats_source_name, first_touches.campaign_id) as first_touch_detail,
        last_touches.touched_at as last_touch_at,
        last_touches.touch_type as last_touch_type,
        last_touches.source as last_touch_source,
        coalesce(last_touches.ats_source_name, last_touches.campaign_id) as last_touch_detail,
        coalesce(first_touches.touch_count, cast(0 as bigint)) as touch_count,
        touched_sources.touched_sources
    from hires
    left join applications on hires.application_id = applications.application_id
    left join channels on applications.source_name = channels.source_name
    left join first_touches on hires.application_id = first_touches.application_id
    left join last_touches on hires.application_id = last_touches.application_id
    left join touched_sources on hires.application_id = touched_sources.application_id

)

select * from final
