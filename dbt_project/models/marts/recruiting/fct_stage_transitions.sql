-- One row per stage an application entered: from which stage, when, for how long, and how it ended.
with

stages as (

    select * from {{ ref('stg_ats__application_stages') }}

),

applications as (

    select * from {{ ref('int_applications_enriched') }}

),

staged as (

    select
        stages.application_stage_row_id,
        applications.application_id,
        applications.person_id,
        applications.job_id,
        applications.credited_to_user_id,
        applications.status,
        stages.stage_name,
        stages.entered_at,
        stages.exited_at,
        row_number() over (
            partition by stages.application_row_id order by stages.entered_at, stages.list_position
        ) as stage_number,
        lag(stages.stage_name) over (
            partition by stages.application_row_id order by stages.entered_at, stages.list_position
        ) as from_stage,
        lead(stages.stage_name) over (
            partition by stages.application_row_id order by stages.entered_at, stages.list_position
        ) as next_stage
    from stages
    inner join applications on stages.application_row_id = applications.application_row_id

),

final as (

    select
        application_stage_row_id as transition_id,
        application_id,
        person_id,
        job_id,
        credited_to_user_id,
        cast(stage_number as bigint) as stage_number,
        from_stage,
        stage_name as to_stage,
        entered_at,
        exited_at,
        {{ days_between('entered_at', 'coalesce(exited_at, ' ~ as_of_timestamp() ~ ')') }} as days_in_stage,
        case
            when next_stage is not null then 'advanced'
            when lower(stage_name) = 'hired' then 'hired'
            when exited_at is null then 'current'
            when status = 'rejected' then 'rejected'
            else 'exited'
        end as stage_outcome
    from staged

)

select * from final
