{#- Small cross-database helpers. Each expands to standard SQL (or dispatches per adapter). -#}

{#- Blank text is no value. -#}
{% macro nullif_blank(expression) -%}
    nullif(trim({{ expression }}), '')
{%- endmacro %}

{#- The mailbox key of an address: mirrors `warmpool.emails.canonical_email` exactly (lower case,
    no `+tag`, Gmail without dots and `googlemail.com` as `gmail.com`; null without exactly one `@`
    or with nothing before the tag or after the `@`). tests/test_emails.py runs this macro and the
    Python function over the same cases (tests/fixtures/canonical_emails.csv). Validity is not
    judged in SQL: it is email-validator's verdict, taken at ingestion (docs/data-contracts.md). -#}
{% macro canonical_email(expression) -%}
    {%- set address = "lower(regexp_replace(" ~ expression ~ ", '^[ \t]+|[ \t]+$', '', 'g'))" -%}
    {%- set domain = dbt.split_part(address, "'@'", 2) -%}
    {%- set tagless = dbt.split_part(dbt.split_part(address, "'@'", 1), "'+'", 1) -%}
    {%- set local = "case when " ~ domain ~ " in ('gmail.com', 'googlemail.com') then replace(" ~ tagless ~ ", '.', '') else " ~ tagless ~ " end" -%}
    case
        when length({{ address }}) - length(replace({{ address }}, '@', '')) <> 1 then null
        when {{ local }} = '' or {{ domain }} = '' then null
        when {{ domain }} in ('gmail.com', 'googlemail.com') then {{ local }} || '@gmail.com'
        else {{ local }} || '@' || {{ domain }}
    end
{%- endmacro %}

{#- Timestamps as ISO-8601 UTC text (`2026-01-31T09:30:00Z`), the resolve contract's format. -#}
{% macro to_iso_text(expression) -%}
    {{ return(adapter.dispatch('to_iso_text', 'warmpool')(expression)) }}
{%- endmacro %}

{% macro default__to_iso_text(expression) -%}
    to_char({{ expression }}, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
{%- endmacro %}

{% macro duckdb__to_iso_text(expression) -%}
    strftime({{ expression }}, '%Y-%m-%dT%H:%M:%SZ')
{%- endmacro %}

{#- A number as text without trailing zeros (`7`, `7.5`). -#}
{% macro number_to_text(expression) -%}
    case
        when {{ expression }} is null then null
        when {{ expression }} = floor({{ expression }}) then cast(cast({{ expression }} as bigint) as {{ dbt.type_string() }})
        else cast(round(cast({{ expression }} as numeric(10, 1)), 1) as {{ dbt.type_string() }})
    end
{%- endmacro %}

{#- Rank of a source when two records of a person were updated at the same time (lower wins):
    the ATS first, then the person's own talent-network form, then vendors, then referrals. -#}
{% macro source_priority(source_column) -%}
    case {{ source_column }}
        when 'ats' then 1
        when 'talent_network' then 2
        when 'referral' then 4
        else 3
    end
{%- endmacro %}

{#- Does a ';'-separated list (null = any) contain `value`? Case- and space-insensitive; no split
    function needed, so it runs on any warehouse. -#}
{% macro list_contains(list_expression, value_expression) -%}
    (';' || replace(replace(lower({{ list_expression }}), '; ', ';'), ' ;', ';') || ';'
        like '%;' || lower(trim({{ value_expression }})) || ';%')
{%- endmacro %}

{#- The job family a spelling stands for in the one controlled vocabulary (seed job_families: every
    accepted spelling, lower case, -> its family), or null for a word the vocabulary lacks.
    warmpool/vocabulary.py reads the same seed for campaign files. -#}
{% macro job_family(expression) -%}
    (select job_families.job_family from {{ ref('job_families') }} as job_families
        where job_families.alias = lower(trim({{ expression }})))
{%- endmacro %}

{#- Part number `part_expression` (a SQL expression, counted from 1) of a delimited text. dbt.split_part
    takes only a literal part number on Postgres; DuckDB and Postgres both have split_part itself. -#}
{% macro split_part_at(string_text, delimiter_text, part_expression) -%}
    split_part({{ string_text }}, {{ delimiter_text }}, cast({{ part_expression }} as integer))
{%- endmacro %}
