{#- A person's work history from every source: the ATS profiles' employment lists, plus each
    record's current title and company as of the record's update. Positions are the same when
    company and title match case- and space-insensitively; their sources are merged. -#}
with

records as (

    select * from {{ ref('int_candidate_records_resolved') }}
    where person_id is not null

),

ats_candidates as (

    select * from {{ ref('stg_ats__candidates') }}

),

employments as (

    select * from {{ ref('stg_ats__candidate_employments') }}

),

listed_positions as (

    select
        records.person_id,
        records.source,
        {{ nullif_blank('employments.company_name') }} as company_name,
        {{ nullif_blank('employments.title') }} as title,
        employments.started_on,
        employments.ended_on,
        cast(null as timestamp) as observed_at,
        employments.ended_on is null as is_open_ended
    from employments
    inner join ats_candidates on employments.candidate_row_id = ats_candidates.candidate_row_id
    inner join records
        on records.source = 'ats'
        and records.source_record_id = cast(ats_candidates.candidate_id as varchar)

),

current_positions as (

    select
        person_id,
        source,
        current_company as company_name,
        current_title as title,
        cast(null as date) as started_on,
        cast(null as date) as ended_on,
        updated_at as observed_at,
        true as is_open_ended
    from records
    where current_title is not null or current_company is not null

),

positions as (

    select *, lower(trim(coalesce(company_name, ''))) || '|' || lower(trim(coalesce(title, ''))) as position_key
    from (
        select * from listed_positions
        union all
        select * from current_positions
    ) as unioned
    where company_name is not null or title is not null

),

merged as (

    select
        person_id,
        position_key,
        min(company_name) as company_name,
        min(title) as title,
        min(started_on) as started_on,
        -- an end date only when no source still lists the position as open
        case when max(case when is_open_ended then 1 else 0 end) = 1 then null else max(ended_on) end as ended_on,
        min(observed_at) as first_observed_at,
        max(observed_at) as last_observed_at,
        count(*) as mention_count
    from positions
    group by person_id, position_key

),

position_sources as (

    select
        person_id,
        position_key,
        {{ dbt.listagg('source', "';'", 'order by source') }} as sources
    from (select distinct person_id, position_key, source from positions) as distinct_sources
    group by person_id, position_key

),

final as (

    select
        {{ dbt.hash("merged.person_id || '|' || merged.position_key") }} as position_id,
        merged.person_id,
        merged.company_name,
        merged.title,
        merged.started_on,
        merged.ended_on,
        merged.first_observed_at,
        merged.last_observed_at,
        position_sources.sources,
        cast(merged.mention_count as bigint) as mention_count
    from merged
    inner join position_sources
        on merged.person_id = position_sources.person_id and merged.position_key = position_sources.position_key

)

select * from final
