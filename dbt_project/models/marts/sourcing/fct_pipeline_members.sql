{#- Each person in each recruiter pipeline, with how they were added and their current stage. -#}
with

events as (

    select * from {{ ref('stg_sourcing__pipeline_events') }}

),

pipelines as (

    select * from {{ ref('stg_sourcing__pipelines') }}

),

added as (

    select pipeline_id, person_id, occurred_at as added_at, added_via, actor as added_by
    from events
    where event = 'added'

),

latest as (

    select pipeline_id, person_id, stage as current_stage, occurred_at as stage_entered_at
    from (
        select
            *,
            row_number() over (partition by pipeline_id, person_id order by pipeline_event_id desc) as recency
        from events
    ) as ranked
    where recency = 1

),

final as (

    select
        added.pipeline_id,
        pipelines.pipeline_name,
        pipelines.job_id,
        added.person_id,
        added.added_at,
        added.added_via,
        added.added_by,
        latest.current_stage,
        latest.stage_entered_at
    from added
    inner join latest on added.pipeline_id = latest.pipeline_id and added.person_id = latest.person_id
    left join pipelines on added.pipeline_id = pipelines.pipeline_id

)

select * from final
