-- The privacy team's erasure worklist: each erasure request with every person holding the
-- requested address, the deadline, and the source records to delete in each system. A request
-- for an address nobody in the pool has still appears (person_id null: nothing to delete here).
with

requests as (

    select * from {{ ref('stg_forms__erasure_requests') }}
    where email_normalized is not null

),

addresses as (

    select * from {{ ref('int_candidate_email_addresses') }}

),

records as (

    select * from {{ ref('int_candidate_records_resolved') }}

),

person_sources as (

    select person_id, {{ dbt.listagg('source', "';'", 'order by source') }} as sources
    from (select distinct person_id, source from records where person_id is not null) as distinct_sources
    group by person_id

),

person_records as (

    select
        records.person_id,
        count(*) as source_record_count,
        min(person_sources.sources) as sources,
        {{ dbt.listagg("records.source || ':' || records.source_record_id", "';'",
                       "order by records.source || ':' || records.source_record_id") }} as source_record_keys
    from records
    inner join person_sources on records.person_id = person_sources.person_id
    group by records.person_id

),

matched as (

    select
        requests.erasure_request_id,
        addresses.person_id,
        requests.email_normalized as email,
        requests.requested_at,
        requests.request_source
    from requests
    left join addresses on requests.email_normalized = addresses.email_normalized

),

final as (

    select
        cast(matched.erasure_request_id as varchar) || '/' || coalesce(matched.person_id, '-') as erasure_item_id,
        matched.erasure_request_id,
        matched.person_id,
        matched.email,
        matched.requested_at,
        -- GDPR Art. 12(3): without undue delay, at the latest one month after the request.
        {{ dbt.dateadd('month', 1, 'matched.requested_at') }} as due_by,
        matched.request_source,
        coalesce(person_records.source_record_count, 0) as source_record_count,
        person_records.sources,
        person_records.source_record_keys
    from matched
    left join person_records on matched.person_id = person_records.person_id

)

select * from final
