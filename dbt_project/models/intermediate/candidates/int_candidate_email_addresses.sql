{#- Every email address known for a person (normalised): each record's primary email plus every
    address on the person's ATS candidates (work and other addresses too). Suppression and
    employee checks look at all of them. -#}
with

records as (

    select * from {{ ref('int_candidate_records_resolved') }}

),

ats_candidates as (

    select * from {{ ref('stg_ats__candidates') }}

),

ats_emails as (

    select * from {{ ref('stg_ats__candidate_emails') }}

),

record_addresses as (

    select person_id, {{ canonical_email('email') }} as email_normalized
    from records
    where email is not null

),

ats_addresses as (

    select records.person_id, {{ canonical_email('ats_emails.email_address') }} as email_normalized
    from ats_emails
    inner join ats_candidates on ats_emails.candidate_row_id = ats_candidates.candidate_row_id
    inner join records
        on records.source = 'ats'
        and records.source_record_id = cast(ats_candidates.candidate_id as varchar)

),

all_addresses as (

    select person_id, email_normalized from record_addresses
    union
    select person_id, email_normalized from ats_addresses

)

select person_id, email_normalized
from all_addresses
where person_id is not null and email_normalized is not null
