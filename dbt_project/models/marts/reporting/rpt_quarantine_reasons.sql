-- Rows quarantined at the boundary by source, reason and field (what to fix, where). A loader's
-- reason quotes the offending value ("invalid email 'jane@@x.com': ..."), which can be personal data:
-- everything from the first quote to the last is left out (a value may itself hold a quote), so the
-- reasons group and the export holds no one's details.
with

quarantined as (

    select * from {{ ref('stg_quarantine__rejected_rows') }}

),

final as (

    select
        coalesce(source, '(unknown)') as source,
        coalesce(regexp_replace(reason, '''.*''', '''…'''), '(no reason)') as reason,
        coalesce(field, '(row)') as field,
        cast(count(*) as bigint) as quarantined_rows,
        cast(count(distinct file_name) as bigint) as files,
        max(quarantined_at) as last_quarantined_at
    from quarantined
    group by 1, 2, 3

)

select * from final
