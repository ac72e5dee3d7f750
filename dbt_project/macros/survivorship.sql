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
