"""The normalised dimensions' rules: name case repair, places, job families and skills."""
from __future__ import annotations

import pytest

from warmpool.names import is_initial, name_spellings, repair_name_case, spelling_key
from warmpool.places import Gazetteer, country_name, place_key
from warmpool.vocabulary import SkillVocabulary, job_families, job_family


@pytest.mark.parametrize("written, part, repaired", [
    ("SMANTHA", "first", "Smantha"), ("katheirne", "first", "Katheirne"),
    ("MCDONALD", "last", "McDonald"), ("macdonald", "last", "MacDonald"),
    ("MACHADO", "last", "Machado"), ("macías", "last", "Macías"),   # not every "Mac" is a prefix
    ("o'brien", "last", "O'Brien"), ("D'ANGELO", "last", "D'Angelo"),
    ("VAN DER BERG", "last", "van der Berg"), ("DE LA CRUZ", "last", "de la Cruz"),
    ("jean-luc", "first", "Jean-Luc"), ("DUPONT-MARTIN", "last", "Dupont-Martin"),
    ("JOSÉ", "first", "José"), ("ÉLODIE", "first", "Élodie"), ("müller", "last", "Müller"),
    ("MARÍA DEL CARMEN", "first", "María del Carmen"), ("LE", "last", "Le"),
])
def test_one_case_names_are_put_in_proper_case(written, part, repaired):
    assert repair_name_case(written, part) == repaired


@pytest.mark.parametrize("written", ["McDonald", "Mcdonald", "van Dijk", "DeShawn", "MacKenzie", "de la Cruz", "J."])
def test_mixed_case_is_kept_exactly_as_written(written):
    assert repair_name_case(written, "last") == written
    assert repair_name_case(written, "first") == written


def test_spellings_vote_together_ignoring_case_and_initials_are_flagged():
    rows = {(r.name_part, r.spelling): r for r in name_spellings(
        [("first", "SAMANTHA"), ("first", "Samantha"), ("first", "S."), ("first", None), ("last", "  ")])}
    assert set(rows) == {("first", "SAMANTHA"), ("first", "Samantha"), ("first", "S.")}
    assert rows[("first", "SAMANTHA")].spelling_key == rows[("first", "Samantha")].spelling_key == "samantha"
    assert rows[("first", "SAMANTHA")].is_case_repaired and not rows[("first", "Samantha")].is_case_repaired
    assert rows[("first", "S.")].is_initial and is_initial("J") and not is_initial("Jo")
    assert spelling_key(None) is None


@pytest.mark.parametrize("written, code", [
    ("United States", "US"), ("USA", "US"), ("US", "US"), ("u.s.a.", "US"), ("United States of America", "US"),
    ("United Kingdom", "GB"), ("UK", "GB"), ("GB", "GB"), ("England", "GB"), ("Germany", "DE"),
    ("Deutschland", "DE"), ("DE", "DE"), ("france", "FR"), ("FRA", "FR"), ("South Korea", "KR"), ("Narnia", None),
    (" ", None),
])
def test_any_spelling_of_a_country_gets_its_iso_code(written, code):
    assert Gazetteer().country_code(written) == code


def test_every_code_has_one_display_name():
    assert [country_name(c) for c in ("US", "GB", "DE", "KR", "VN")] == [
        "United States", "United Kingdom", "Germany", "South Korea", "Vietnam"]
    assert country_name("XX") is None and country_name(None) is None


@pytest.mark.parametrize("city, region, country, expected", [
    ("SF", "CA", "USA", ("San Francisco", "California", "US")),
    ("San Francisco Bay Area", "California", "United States", ("San Francisco", "California", "US")),
    ("NYC", "NY", "US", ("New York City", "New York", "US")),
    ("München", "Bayern", "Germany", ("Munich", "Bayern", "DE")),
    ("Muenchen", "BY", "DE", ("Munich", "Bayern", "DE")),
    ("Bangalore", "Karnataka", "India", ("Bengaluru", "Karnātaka", "IN")),
    ("Portland", "OR", "US", ("Portland", "Oregon", "US")),     # the one in the record's state ...
    ("Portland", "ME", "US", ("Portland", "Maine", "US")),
    ("Smallville", "Kansas", "US", ("Smallville", "Kansas", "US")),  # unknown city: kept as written
])
def test_cities_and_regions_are_canonical(city, region, country, expected):
    place = Gazetteer().place(city, region, country)
    assert (place.city, place.region, place.country_code) == expected


def test_the_override_seeds_are_the_ones_passed_in():
    gazetteer = Gazetteer(country_aliases=[{"alias": "Ruritania", "country_code": "ro"}],
                          city_aliases=[{"country_code": "US", "alias": "Gotham", "city": "New York City"}])
    assert gazetteer.country_code("RURITANIA") == "RO"
    assert gazetteer.city("gotham", "US") == "New York City"
    assert gazetteer.country_code("UK") is None  # only the given overrides, not the shipped seed
    assert place_key("Île-de-France") == "ile de france"


def test_job_families_fold_case_and_synonyms_into_the_vocabulary():
    assert [job_family(w) for w in ("engineering", "Engineering", " SOFTWARE  engineering ", "hr", "Data")] == [
        "Engineering", "Engineering", "Engineering", "People", "Data"]
    assert job_family("astrology") is None
    assert {"Engineering", "Data", "Sales", "People", "Customer Success"} <= set(job_families())


def test_skills_are_folded_and_listed_once():
    vocabulary = SkillVocabulary()
    assert vocabulary.skills("Python; JS;node;javascript;;K8s") == "python;javascript;node.js;kubernetes"
    assert vocabulary.skills(" ; ") is None and vocabulary.skills(None) is None
