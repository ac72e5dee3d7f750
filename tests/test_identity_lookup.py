"""Search first against a pool planned once: a looked-up record gets the blocking keys it would have had
in a run over the pool, and is scored as that run scores it, reading only the pool records it shares a
key with."""
from __future__ import annotations

import polars as pl
import pytest

from warmpool.identity import features_for_model, load_model, plan_pool, score_against_pool
from warmpool.identity.blocking import plan_blocking
from warmpool.identity.evaluate import febrl3_records
from warmpool.identity.normalize import normalize_records
from warmpool.identity.scoring import score_delta_pairs


def _maria_garcias(n: int) -> pl.DataFrame:
    """One name for nearly everyone (its blocks explode and are tightened by city and mailbox name), and
    200 others in pairs (their small blocks stay as they are); emails in lists, three of them shared by a
    thousand records (placeholders, dropped from the list rule)."""
    names = [("Maria", "Garcia")] * n + [(f"Ana{i // 2}", f"Ng{i // 2}") for i in range(200)]
    return pl.DataFrame({
        "source": ["s"] * len(names), "source_record_id": [str(i) for i in range(len(names))],
        "first_name": [f for f, _ in names], "last_name": [last for _, last in names],
        "email": [f"m{i % 1000}@acme.com;x{i % 3}@b.com" if i % 2 else f"m{i}@q.com" for i in range(len(names))],
        "city": [f"City{i % 400}" for i in range(len(names))]})


def test_rows_of_the_planned_records_get_exactly_the_plans_keys():
    f = normalize_records(_maria_garcias(4000))
    plan = plan_blocking(f)
    assert any("tightened" in c.note for c in plan.counts) and any("left out" in c.note for c in plan.counts)
    assert plan.keys_for(f).equals(plan.keys)


def test_a_looked_up_record_in_an_exploded_block_meets_only_those_its_tightening_rules_pair_it_with():
    pool = normalize_records(_maria_garcias(4000))
    plan = plan_blocking(pool)
    new = normalize_records(pl.DataFrame({"source": ["lookup"], "source_record_id": ["1"], "first_name": ["Maria"],
                                          "last_name": ["Garcia"], "email": ["nobody@else.example"],
                                          "city": ["City7"]}))
    met = pool.filter(plan.blocked_with(plan.keys, plan.keys_for(new)))
    # not the 4,000 namesakes of the untightened rule: the ten in the same city
    assert met.height == 10 and set(met["city_norm"]) == {"city7"}
    assert met["last_name_norm"].unique().to_list() == ["garcia"]


def test_a_rule_with_no_pair_inside_the_pool_still_finds_the_looked_up_record():
    """Every pool record its own email and name: a pool-only plan would drop the email rule (nothing to
    compare inside the pool), and a look-up by a known email under another name would find nobody."""
    model = load_model()
    pool = pl.DataFrame({"source": ["ats"] * 3, "source_record_id": ["1", "2", "3"],
                         "first_name": ["Ana", "Bo", "Cy"], "last_name": ["Ng", "Oduya", "Park"],
                         "email": ["ana.ng@acme.example", "bo@globex.example", "cy.park@initech.example"]})
    query = pl.DataFrame({"source": ["lookup"], "source_record_id": ["1"], "first_name": ["Anna"],
                          "last_name": ["Ng-Smith"], "email": ["ANA.NG@acme.example"]})
    pairs = score_against_pool(query, features_for_model(pool, model), model, min_probability=0.0)
    assert ("ats", "1") in {(r["source_l"], r["source_record_id_l"]) for r in pairs.iter_rows(named=True)} | \
        {(r["source_r"], r["source_record_id_r"]) for r in pairs.iter_rows(named=True)}


def test_a_look_up_scores_as_a_run_over_the_whole_pool_does_on_records_nobody_here_wrote():
    """FEBRL3 (public benchmark data): 25 records taken out of the pool and looked up against the rest
    (planned once) give the pairs, probabilities and evidence that scoring them against the whole pool
    (planned with them, every pool record given to Splink) gives."""
    model = load_model()
    records, _ = febrl3_records()
    taken = records.gather(list(range(0, 5000, 200)))
    rest = records.join(taken.select("source", "source_record_id"), on=["source", "source_record_id"], how="anti")
    pool_f = features_for_model(rest, model)
    new_f = features_for_model(taken, model).with_columns(pl.col("unique_id") + pool_f.height)
    cols = [c for c in pool_f.columns if c in new_f.columns]
    expected = score_delta_pairs(pool_f.select(cols), new_f.select(cols), pool_f.clear(), model, 0.01)
    planned = plan_pool(pool_f, model)
    got = score_against_pool(taken, planned, model, min_probability=0.01)
    keys = ["source_l", "source_record_id_l", "source_r", "source_record_id_r"]
    assert expected.height > 20  # most taken records have their duplicates in the pool
    assert got.select(keys).sort(keys).equals(expected.select(keys).sort(keys))
    joined = got.join(expected, on=keys, suffix="_e")
    assert joined["match_probability"].to_list() == pytest.approx(joined["match_probability_e"].to_list(), abs=1e-6)
    assert joined["match_weight"].to_list() == pytest.approx(joined["match_weight_e"].to_list(), abs=1e-6)
