"""How close the golden profiles come to the sandbox's truth (tests and benchmarks only).

Each pool person is compared with the true person most of its records belong to
(`sandbox/truth/source_record_person.csv`), whose real name and place are in
`sandbox/truth/people.csv`. A name counts where the person's real spelling appears in at least one
of their records (ignoring case: a name only ever typed in capitals still counts, so case repair is
measured too); the comparison itself is case-sensitive.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from warmpool.places import Gazetteer

_PEOPLE_OF_RECORDS = """
with truth_records as (
    select * from read_csv('{truth}/source_record_person.csv', all_varchar = true)
),
votes as (
    select b.person_id, t.true_person_id, count(*) as records
    from marts.bridge_candidate_records b
    join truth_records t on b.source = t.source and b.source_record_id = t.source_record_id
    group by 1, 2
),
owner as (
    select person_id, true_person_id
    from (select *, row_number() over (partition by person_id order by records desc, true_person_id) as n
          from votes)
    where n = 1
)
select o.person_id, o.true_person_id, p.first_name as real_first, p.last_name as real_last,
       p.city as real_city, p.region as real_region, p.country_code as real_country
from owner o
join read_csv('{truth}/people.csv', all_varchar = true) p on o.true_person_id = p.true_person_id
"""


@dataclass(frozen=True)
class Accuracy:
    people: int
    first_counted: int
    first_right: int
    last_counted: int
    last_right: int
    people_with_country: int
    with_iso_code: int
    right_country: int
    display_names_per_code: int   # the most display names any one code has (1 = one name per code)
    city_counted: int
    city_right: int
    first_right_previous_rule: int
    last_right_previous_rule: int

    @property
    def first_share(self) -> float:
        return self.first_right / self.first_counted if self.first_counted else 1.0

    @property
    def last_share(self) -> float:
        return self.last_right / self.last_counted if self.last_counted else 1.0


def golden_accuracy(con, truth_dir: Path) -> Accuracy:
    """Golden names, country and city of ``marts.dim_candidates`` against the truth, plus what the
    previous survivorship rule (the newest record holding both name parts) would have scored on the
    same records: the baseline of the same run."""
    con.execute(f"create or replace temp table measured_people as {_PEOPLE_OF_RECORDS.format(truth=truth_dir)}")
    names = con.execute("""
        with records as (
            select b.person_id, b.first_name, b.last_name, b.updated_at, b.source, b.source_record_id
            from marts.bridge_candidate_records b
        ),
        appears as (
            select m.person_id,
                   max(case when lower(r.first_name) = lower(m.real_first) then 1 else 0 end) = 1 as first_appears,
                   max(case when lower(r.last_name) = lower(m.real_last) then 1 else 0 end) = 1 as last_appears
            from measured_people m join records r on r.person_id = m.person_id
            group by 1
        ),
        previous_rule as (
            select person_id, first_name, last_name from (
                select *, row_number() over (
                    partition by person_id
                    order by case when first_name is not null and last_name is not null then 0 else 1 end,
                             updated_at desc nulls last,
                             case source when 'ats' then 1 when 'talent_network' then 2 when 'referral' then 4 else 3 end,
                             source, source_record_id) as n
                from records)
            where n = 1
        )
        select count(*),
               sum(case when a.first_appears then 1 else 0 end),
               sum(case when a.first_appears and d.first_name = m.real_first then 1 else 0 end),
               sum(case when a.last_appears then 1 else 0 end),
               sum(case when a.last_appears and d.last_name = m.real_last then 1 else 0 end),
               sum(case when a.first_appears and p.first_name = m.real_first then 1 else 0 end),
               sum(case when a.last_appears and p.last_name = m.real_last then 1 else 0 end)
        from measured_people m
        join marts.dim_candidates d on d.person_id = m.person_id
        join appears a on a.person_id = m.person_id
        left join previous_rule p on p.person_id = m.person_id
    """).fetchone()
    countries = con.execute("""
        with stated as (
            select distinct person_id from marts.bridge_candidate_records where country is not null
        )
        select count(*), count(d.country_code),
               sum(case when d.country_code = m.real_country then 1 else 0 end)
        from stated s
        join marts.dim_candidates d on d.person_id = s.person_id
        join measured_people m on m.person_id = s.person_id
    """).fetchone()
    (most_names,) = con.execute("""
        select coalesce(max(n), 0) from (
            select country_code, count(distinct country) as n from (
                select country_code, country from marts.dim_candidates
                union all select country_code, country from marts.audience_members)
            where country_code is not null group by 1)
    """).fetchone()
    gazetteer = Gazetteer()
    cities = con.execute("""
        select d.city, m.real_city, m.real_region, m.real_country
        from marts.dim_candidates d join measured_people m on d.person_id = m.person_id
        where d.city is not null
    """).fetchall()
    city_right = sum(1 for city, real, region, code in cities if city == gazetteer.city(real, code, region))
    return Accuracy(int(names[0]), int(names[1] or 0), int(names[2] or 0), int(names[3] or 0), int(names[4] or 0),
                    int(countries[0]), int(countries[1]), int(countries[2] or 0), int(most_names),
                    len(cities), city_right, int(names[5] or 0), int(names[6] or 0))
