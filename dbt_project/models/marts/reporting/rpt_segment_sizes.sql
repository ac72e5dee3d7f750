-- People in each segment by their job family and country: segment_members (who is in a segment, as
-- computed by warmpool/segments.py) counted over dim_candidates' dimensions, so the campaigns page
-- shows a segment's size and make-up without reading person rows.
with

members as (

    select * from {{ source('marts', 'segment_members') }}

),

candidates as (

    select person_id, job_family, country_code from {{ ref('dim_candidates') }}

),

final as (

    select
        members.segment,
        members.segment_version,
        candidates.job_family,
        candidates.country_code,
        cast(count(*) as bigint) as people
    from members
    inner join candidates on members.person_id = candidates.person_id
    group by 1, 2, 3, 4

)

select * from final
