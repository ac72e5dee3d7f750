{#- Every touch of the hired person up to the moment of the hire, ranked: the first touch, the last
    touch and everything between (multi-touch attribution; rules in the YAML). -#}
with

hires as (

    select * from {{ ref('int_hires') }}

),

touches as (

    select * from {{ ref('int_candidate_touches') }}

),

before_hire as (

    select
        hires.application_id,
        hires.person_id,
        hires.hired_at,
        touches.touched_at,
        touches.touch_type,
        touches.source,
        touches.ats_source_name,
        touches.campaign_id,
        touches.touch_key
    from hires
    inner join touches
        on hires.person_id = touches.person_id
        and touches.touched_at <= hires.hired_at
    -- delivered mail is not a touch the person acted on; opens and clicks are
    where touches.touch_type <> 'email_delivered'

),

ranked as (

    select
        before_hire.*,
        row_number() over (
            partition by application_id order by touched_at, touch_type, touch_key
        ) as touch_number,
        count(*) over (partition by application_id) as touch_count
    from before_hire

),

final as (

    select
        application_id,
        person_id,
        hired_at,
        cast(touch_number as bigint) as touch_number,
        cast(touch_count as bigint) as touch_count,
        touched_at,
        touch_type,
        source,
        ats_source_name,
        campaign_id,
        touch_key,
        case
            when touch_count = 1 then 'only'
            when touch_number = 1 then 'first'
            when touch_number = touch_count then 'last'
            else 'middle'
        end as touch_position,
        cast(1.0 / touch_count as numeric(10, 4)) as linear_credit
    from ranked

)

select * from final
