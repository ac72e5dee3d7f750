{#- Survivorship: for each person, the record that wins a group of golden fields is the first by
    `rank_by` among the records with a value in `required_any` (any of them non-empty). The default
    ranking is recency (`updated_at`), then source trust (`source_priority`: ATS, talent network,
    vendors, referrals); a field may put completeness or trust first (see int_candidates_golden's
    YAML for the rule of every field). The lowest source/record id breaks any remaining tie so the
    choice is deterministic. Fields in one group (a name, a location) always come from the same
    record; `<alias>_source` says which source won. -#}
{% macro survivor(records_cte, fields, required_any=none, rank_by=none, alias=none) -%}
    {%- set required = required_any or fields -%}
    {%- set ranking = rank_by or ['updated_at desc nulls last', 'source_priority'] -%}
    select person_id, {{ fields | join(', ') }}{% if alias %}, source as {{ alias }}_source{% endif %}
    from (
        select
            person_id,
            source,
            {{ fields | join(', ') }},
            row_number() over (
                partition by person_id
                order by {{ ranking | join(', ') }}, source, source_record_id
            ) as survivor_rank
        from {{ records_cte }}
        where {% for field in required %}{{ field }} is not null{% if not loop.last %} or {% endif %}{% endfor %}
    ) as ranked
    where survivor_rank = 1
{%- endmacro %}

{#- Survivorship by vote, for a name part (`first` | `last`): among the person's records with a
    value, the spelling most of them agree on wins, two records agreeing when their case-repaired
    spellings are equal ignoring case and accents (`int_name_spellings.spelling_key`,
    warmpool/names.py). On equal votes: a written-out name before an initial ("J."), a formal name
    before its nickname ("William" before "Bill", first names), the spelling more people in the pool
    share (a typo is rare, the real spelling is not), then the most trusted source
    (`source_priority`), then the most recent record. The winning spelling is shown with its accents
    when any record has them, as a person wrote it in mixed case when any record did, else
    case-repaired. `<field>_source` names the source of the record shown. -#}
{% macro voted_name(records_cte, field, name_part) -%}
    with named as (
        select
            records.person_id, records.source, records.source_record_id, records.source_priority,
            records.updated_at, name_spellings.display_spelling, name_spellings.spelling_key,
            name_spellings.is_case_repaired, name_spellings.has_accent, name_spellings.is_initial,
            name_spellings.formal_keys
        from {{ records_cte }} as records
        inner join {{ ref('int_name_spellings') }} as name_spellings
            on name_spellings.name_part = '{{ name_part }}'
            and name_spellings.spelling = records.{{ field }}
    ),
    person_votes as (
        select
            person_id,
            spelling_key,
            count(*) as votes,
            min(source_priority) as best_priority,
            max(updated_at) as latest_updated_at,
            max(case when is_initial then 1 else 0 end) as is_initial,
            max(formal_keys) as formal_keys
        from named
        group by person_id, spelling_key
    ),
    pool as (
        -- how many people in the pool write the name this way
        select spelling_key, count(distinct person_id) as pool_people
        from named
        group by spelling_key
    ),
    votes as (
        select
            person_votes.*,
            case when exists (
                select 1 from person_votes as other
                where other.person_id = person_votes.person_id
                    and other.spelling_key <> person_votes.spelling_key
                    and {{ list_contains('person_votes.formal_keys', 'other.spelling_key') }}
            ) then 1 else 0 end as is_nickname,
            pool.pool_people
        from person_votes
        inner join pool on person_votes.spelling_key = pool.spelling_key
    )
    select person_id, display_spelling as {{ field }}, source as {{ field }}_source
    from (
        select
            named.person_id,
            named.display_spelling,
            named.source,
            row_number() over (
                partition by named.person_id
                order by votes.is_initial, votes.votes desc, votes.is_nickname, votes.pool_people desc,
                    votes.best_priority, votes.latest_updated_at desc nulls last, votes.spelling_key,
                    named.has_accent desc, named.is_case_repaired, named.source_priority,
                    named.updated_at desc nulls last, named.source, named.source_record_id
            ) as survivor_rank
        from named
        inner join votes on named.person_id = votes.person_id and named.spelling_key = votes.spelling_key
    ) as ranked
    where survivor_rank = 1
{%- endmacro %}
