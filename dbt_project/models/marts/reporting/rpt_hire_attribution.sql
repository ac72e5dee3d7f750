-- Hires credited to sources under four attribution models, by hire month, job family and country:
-- ats_source (the application's ATS source, as rpt_source_roi counts them), first_touch, last_touch
-- (the person's first / last touch before the hire, any source) and every_touch (each touch an equal
-- share, fct_hire_touches.linear_credit). Each model's hires add up to the same total.
with

hires as (

    select * from {{ ref('fct_hires') }}

),

touches as (

    select * from {{ ref('fct_hire_touches') }}

),

candidates as (

    select person_id, country_code from {{ ref('dim_candidates') }}

),

credits as (

    -- source: the pool's source key the credit goes to (an ATS source's is its vendor's, else ats)
    select application_id, 'ats_source' as attribution_model,
        coalesce(source_name, '(no source)') as credited_source, coalesce(vendor, 'ats') as source,
        cast(1 as double precision) as credit  -- "double" is DuckDB's alone
    from hires
    union all
    select application_id, 'first_touch', coalesce(first_touch_source, '(no touch)'),
        coalesce(first_touch_source, '(no touch)'), 1.0
    from hires
    union all
    select application_id, 'last_touch', coalesce(last_touch_source, '(no touch)'),
        coalesce(last_touch_source, '(no touch)'), 1.0
    from hires
    union all
    -- a hire without any recorded touch keeps its whole credit, so the models' totals agree
    select hires.application_id, 'every_touch', coalesce(touches.source, '(no touch)'),
        coalesce(touches.source, '(no touch)'), coalesce(touches.linear_credit, 1.0)
    from hires
    left join touches on hires.application_id = touches.application_id

),

final as (

    select
        cast({{ dbt.date_trunc('month', 'hires.hired_at') }} as date) as period_month,
        credits.attribution_model,
        credits.credited_source,
        credits.source,
        hires.job_family,
        candidates.country_code,
        -- the cast rounds to 3 places on both engines (PostgreSQL has no round(double precision, n))
        cast(sum(credits.credit) as numeric(14, 3)) as hires
    from credits
    inner join hires on credits.application_id = hires.application_id
    left join candidates on hires.person_id = candidates.person_id
    group by 1, 2, 3, 4, 5, 6

)

select * from final
