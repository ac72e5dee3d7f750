{#- Survivorship: for each person, the record that wins a group of golden fields is the most
    recently updated record with a value in `required_any` (any of them non-empty); ties go to the
    better source (`source_priority`: ATS, talent network, vendors, referrals), then the lowest
    source/record id so the choice is deterministic. Fields in one group (a name, a location)
    always come from the same record. -#}
{% macro survivor(records_cte, fields, required_any=none) -%}
    {%- set required = required_any or fields -%}
    select person_id, {{ fields | join(', ') }}
    from (
        select
            person_id,
            {{ fields | join(', ') }},
            row_number() over (
                partition by person_id
                order by updated_at desc nulls last, source_priority, source, source_record_id
            ) as survivor_rank
        from {{ records_cte }}
        where {% for field in required %}{{ field }} is not null{% if not loop.last %} or {% endif %}{% endfor %}
    ) as ranked
    where survivor_rank = 1
{%- endmacro %}
