{#- Resume text people gave on the talent-network and referral forms, with the person identity
    resolution assigned the submission to. Blank text is no resume. -#}
with

submissions as (

    select * from {{ ref('stg_forms__submissions') }}

),

records as (

    select * from {{ ref('int_candidate_records_resolved') }}
    where source_family = 'form'

),

final as (

    select
        records.person_id,
        records.source,
        records.source_record_id,
        {{ nullif_blank('submissions.resume_text') }} as resume_text,
        submissions.submitted_at as received_at
    from submissions
    inner join records
        on records.source = submissions.form_name
        and records.source_record_id = cast(submissions.submission_id as varchar)

)

select * from final
where resume_text is not null
