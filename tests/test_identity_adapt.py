"""Identity on any company's export (issue 17): the model adapts to the input, optional columns count,
blocking is sized before use, the threshold comes from the scores, conditional levels."""
from __future__ import annotations

import polars as pl
import pytest

from warmpool.identity import load_model, resolve_csv, resolve_records
from warmpool.identity.evaluate import febrl3_records
from warmpool.identity.blocking import plan_blocking
from warmpool.identity.estimate import expected_quality, threshold_from_scores
from warmpool.identity.normalize import (date_order, date_value, email_values, normalize_records, phone_values,
                                         split_full_name)
from warmpool.identity.scoring import score_pairs


# ---- optional columns and their normalisation ------------------------------------------------

def test_date_order_is_detected_per_column():
    us = ["12/25/1980", "01/02/1990", "07/04/1976"]
    eu = ["25/12/1980", "01/02/1990", "04/07/1976"]
    assert date_order(us) == "mdy" and date_order(eu) == "dmy"
    assert date_value("01/02/1990", date_order(us)) == "19900102"   # January 2nd in a US column
    assert date_value("01/02/1990", date_order(eu)) == "19900201"   # 1 February in a European one
    assert date_value("1990-02-01") == date_value("19900201") == "19900201"
    assert date_value("1958-07-71") == "19580771"  # a typo'd date stays comparable by edit distance
    assert date_value("not a date") is None


def test_full_name_is_split_and_never_overrides_given_names():
    assert split_full_name("García, María José") == ("María", "José", "García")
    assert split_full_name("Dr. Wei Zhang Jr.") == ("Wei", None, "Zhang")
    assert split_full_name("Ana Lima") == ("Ana", None, "Lima")
    f = normalize_records(pl.DataFrame({
        "source": ["a", "a"], "source_record_id": ["1", "2"], "first_name": [None, "Robert"],
        "last_name": [None, "Smith"], "full_name": ["Okafor, Chidi", "Someone Else"]}))
    assert f["first_name_norm"].to_list() == ["chidi", "robert"]
    assert f["last_name_norm"].to_list() == ["okafor", "smith"]


def test_several_emails_and_phones_per_record():
    assert email_values("Ann.Lee@Gmail.com; bad address ;ann@work.io") == ["annlee@gmail.com", "ann@work.io"]
    assert phone_values("+1 415 555 0123; (415) 555-0123; 0049 176 12229778", "US") == ["+14155550123",
                                                                                         "+4917612229778"]
    f = normalize_records(pl.DataFrame({"source": ["a"], "source_record_id": ["1"],
                                        "email": ["x@y.com;z@w.org"], "phone": ["+14155550123"]}))
    assert f["email_norm"][0] == "x@y.com" and f["email_list"][0].to_list() == ["x@y.com", "z@w.org"]


# ---- the model: auto, adapt, saved, and the guard rails ------------------------------------------

# (an export without email or phone resolving far above exact-match rules: test_identity_accuracy's FEBRL4)

def test_an_input_too_small_for_em_falls_back_to_priors_and_says_so(tmp_path):
    path = tmp_path / "small.csv"
    febrl3_records()[0].head(120).write_csv(path)
    stats = resolve_csv(path, tmp_path / "out.csv", mode="adapt")
    print("\n" + stats.describe())
    assert "model: priors" in stats.model
    assert "too small for EM (120 records; at least 500 needed)" in stats.model
    out = pl.read_csv(tmp_path / "out.csv", infer_schema=False)
    assert out.height == 120


def test_the_summary_names_the_mode_and_why(small_world, tmp_path):
    export = small_world.sandbox_dir / "exports" / "source_records.csv"
    auto = resolve_csv(export, tmp_path / "a.csv")
    assert auto.model.startswith("model: saved (auto: the input looks like the saved model's training data)")
    assert "(the saved model's, chosen on labelled data)" in auto.threshold
    forced = resolve_csv(export, tmp_path / "b.csv", mode="adapt", save_model=tmp_path / "adapted.json")
    assert forced.model.startswith("model: adapted (--model adapt)") and "from the score distribution" in forced.threshold
    saved = load_model()
    from warmpool.identity import TrainedModel  # the file --save-model wrote loads and is a newer version

    adapted = TrainedModel.load(tmp_path / "adapted.json")
    assert adapted.model_version == saved.model_version + 1
    assert adapted.metrics["trained_on"] == "this input"
    # the blocking report: comparisons per rule
    assert any(line.startswith("email: ") for line in auto.blocking)


def test_auto_adapts_when_the_columns_differ(small_world, tmp_path):
    records = pl.read_csv(small_world.sandbox_dir / "exports" / "source_records.csv", infer_schema=False)
    no_contact = records.with_columns(pl.lit(None, pl.String).alias("email"), pl.lit(None, pl.String).alias("phone"))
    run = resolve_records(no_contact)
    assert run.choice.mode == "adapted"
    assert "email is filled on 0% of records" in run.choice.reason


# ---- blocking sized before use ---------------------------------------------------------------------

def test_an_exploding_block_is_tightened_and_what_it_loses_recovered():
    n = 4000  # one surname + initial for everyone: a single block of 8M pairs
    f = normalize_records(pl.DataFrame({
        "source": ["s"] * n, "source_record_id": [str(i) for i in range(n)],
        "first_name": ["Maria"] * n, "last_name": ["Garcia"] * n,
        "city": [f"City{i % 400}" for i in range(n)]}))
    plan = plan_blocking(f)
    by_rule = {c.rule: c for c in plan.counts}
    print("\n" + "\n".join(plan.describe()))
    assert plan.comparisons < 3_000_000                      # not the 8M of the untightened block
    assert "last name + first initial + city" in by_rule    # the recovery rule: same city still compared
    assert by_rule["last name + first initial + city"].comparisons == 400 * (10 * 9 // 2)


def test_a_rule_without_a_pair_is_reported_but_not_run():
    """Every record its own email: the email rule has nothing to compare, so it costs no join (each
    rule is one in every prediction) and the summary says so."""
    n = 50
    f = normalize_records(pl.DataFrame({
        "source": ["s"] * n, "source_record_id": [str(i) for i in range(n)],
        "first_name": ["Maria"] * n, "last_name": ["Garcia"] * n, "email": [f"m{i}@acme.com" for i in range(n)]}))
    plan = plan_blocking(f)
    email = next(c for c in plan.counts if c.rule == "email")
    assert email.comparisons == 0 and "not run" in email.describe()
    assert len(plan.splink_rules) == sum(1 for c in plan.counts if c.comparisons > 0)
    assert plan.keys.width == len(plan.splink_rules)


# ---- the threshold from the score distribution --------------------------------------------------------

def test_expected_precision_and_recall_come_from_the_probabilities():
    p = pl.Series([0.99] * 90 + [0.6] * 10 + [0.05] * 100)
    q = expected_quality(p, 0.9)
    assert q.linked_pairs == 90 and q.expected_precision == pytest.approx(0.99)
    assert q.expected_recall == pytest.approx(89.1 / (89.1 + 6 + 5))
    # linking the 0.6 pairs too gains more recall (6 of ~100 expected matches) than it costs precision
    assert threshold_from_scores(p).threshold == 0.5


# ---- the conditional email level ---------------------------------------------------------------

def test_a_mailbox_made_of_the_names_is_no_evidence_beyond_the_names():
    """first.last@ at two employers is what namesakes have: it must not count as if independent of
    the names (it used to add ~15 bits); a distinctive mailbox name at two domains still counts."""
    model = load_model()
    people = pl.DataFrame({
        "source": ["a", "b", "c", "d"], "source_record_id": ["1", "2", "3", "4"],
        "first_name": ["Maria", "Maria", "Maria", "Maria"], "last_name": ["Garcia"] * 4,
        "email": ["maria.garcia@acme.com", "maria.garcia@globex.com", "mg_tiger77@acme.com",
                  "mg_tiger77@globex.com"],
        "city": ["Madrid", "Sevilla", "Madrid", "Sevilla"]})
    f = normalize_records(people)
    assert f["email_local_is_name"].to_list() == [True, True, False, False]
    pairs = score_pairs(f, model, 0.0)
    email_weight = {(a, b): w for a, b, w in pairs.select("source_l", "source_r", "mw_email").iter_rows()}
    assert email_weight[("a", "b")] == pytest.approx(0.0, abs=1e-6)
    assert email_weight[("c", "d")] > 2  # the same distinctive mailbox name at two domains still counts
