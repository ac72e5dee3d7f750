"""The external identity benchmark's data: public loaders, the second world generator, the baselines.

What the benchmark's figures stand on: every data set arrives in the resolve contract with its truth
kept apart; the second world is deterministic and really has the hard cases it promises; it owes
nothing to the sandbox; the baselines do what their names say.
"""
from __future__ import annotations

import ast
import csv
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import phonenumbers
import polars as pl
import pytest

from benchmarks.identity_baselines import exact_rule_clusters, plain_splink_clusters
from benchmarks.identity_external_data import (
    OPTIONAL_COLUMNS, TRUTH_COLUMNS, contract_frame, dupehell_contacts, febrl, pseudopeople_people,
)
from benchmarks.othergen import COLUMNS, generate, vocab
from benchmarks.othergen.world import fold_accents
from warmpool.identity import pairwise_scores
from warmpool.identity.normalize import CONTRACT_COLUMNS

REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout the tests run in
OTHERGEN = REPO_ROOT / "benchmarks" / "othergen"


# ---------------------------------------------------------------------------------------------
# public data sets

@pytest.fixture(scope="module", params=["febrl1", "febrl2", "febrl3", "febrl4", "dupehell", "pseudopeople"])
def public(request):
    name = request.param
    if name == "dupehell":
        return dupehell_contacts(size=600)
    if name == "pseudopeople":
        return pseudopeople_people()
    return febrl(int(name[-1]))


def test_public_loader_gives_contract_records_and_separate_truth(public, tmp_path):
    records_csv, truth_csv = public.write(tmp_path)
    written = pl.read_csv(records_csv, infer_schema=False)
    assert tuple(written.columns[:len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS
    assert set(written.columns[len(CONTRACT_COLUMNS):]) <= set(OPTIONAL_COLUMNS)
    assert not {"true_person_id", "soc_sec_id", "simulant_id", "master_id"} & set(written.columns)
    assert written.select("source", "source_record_id").is_duplicated().sum() == 0
    assert written["source"].null_count() == 0 and written["source_record_id"].null_count() == 0
    truth = pl.read_csv(truth_csv, infer_schema=False)
    assert tuple(truth.columns) == TRUTH_COLUMNS
    assert truth.height == written.height and truth["true_person_id"].null_count() == 0
    assert written.join(truth, on=["source", "source_record_id"], how="anti").height == 0
    # a deduplication benchmark needs many people with several records
    assert (truth.group_by("true_person_id").len()["len"] > 1).sum() > 50


def test_public_loaders_carry_what_each_data_set_has():
    f4 = febrl(4)
    assert set(f4.records["source"].unique()) == {"febrl4_a", "febrl4_b"}
    assert f4.optional_columns() == ("date_of_birth", "postcode", "address_line")
    assert f4.truth["true_person_id"].n_unique() == 5_000  # every B record is a copy of one A record
    people = pseudopeople_people()
    assert {"date_of_birth", "address_line", "postcode", "middle_name"} <= set(people.optional_columns())
    assert people.records["current_company"].drop_nulls().len() > 1_000  # the W-2 employer
    # dates rearranged to YYYY-MM-DD with their noise kept: most parse, a few typo'd ones do not
    iso = people.records["date_of_birth"].drop_nulls().str.contains(r"^\d{4}-\d{2}-\d{2}$").mean()
    assert iso > 0.95
    contacts = dupehell_contacts(size=600)
    assert contacts.records["email"].drop_nulls().len() > 400 and not contacts.optional_columns()
    assert not contacts.truth["true_person_id"].str.starts_with("CANARY").any()


def test_contract_frame_fills_missing_contract_columns():
    frame = contract_frame(pl.DataFrame({"source": ["a"], "source_record_id": ["1"], "postcode": ["2000"]}))
    assert frame.columns == [*CONTRACT_COLUMNS, "postcode"]
    assert frame["email"].to_list() == [None]


# ---------------------------------------------------------------------------------------------
# the second world

@pytest.fixture(scope="module")
def world(tmp_path_factory) -> pl.DataFrame:
    out = tmp_path_factory.mktemp("othergen")
    manifest = generate(out, seed=5, people=4_000)
    records = pl.read_csv(out / "records.csv", infer_schema=False)
    truth = pl.read_csv(out / "truth.csv", infer_schema=False)
    assert records.height == truth.height == manifest["records"]
    assert tuple(records.columns) == COLUMNS and tuple(truth.columns) == ("source", "source_record_id", "true_person_id")
    return records.join(truth, on=["source", "source_record_id"], how="inner")


def _by_person(world: pl.DataFrame, col: str) -> dict[str, list]:
    out = defaultdict(list)
    for person, value in world.select("true_person_id", col).iter_rows():
        if value is not None:
            out[person].append(value)
    return out


def test_second_world_is_deterministic_by_seed(tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate(tmp_path / name, seed=seed, people=300)
    same = [(tmp_path / n / f).read_bytes() for n in ("a", "b") for f in ("records.csv", "truth.csv")]
    assert same[0] == same[2] and same[1] == same[3]
    assert (tmp_path / "c" / "records.csv").read_bytes() != same[0]


def test_second_world_stops_at_the_requested_number_of_records(tmp_path):
    manifest = generate(tmp_path, seed=1, records=2_500)
    with (tmp_path / "records.csv").open(encoding="utf-8") as f:
        rows = sum(1 for _ in csv.reader(f)) - 1
    assert rows == manifest["records"] >= 2_500
    assert manifest["records"] < 2_500 + 40  # stops after the household that crossed the line
    assert sum(manifest["records_per_source"].values()) == rows


def test_keys_are_unique_and_truth_is_not_in_the_records(world):
    assert world.select("source", "source_record_id").is_duplicated().sum() == 0
    assert "true_person_id" not in COLUMNS
    # record ids carry no person number: ids of one person's records are not consecutive
    assert not world["source_record_id"].str.contains(world["true_person_id"].str.slice(1)).any()


def test_namesakes_share_names(world):
    names = world.filter(pl.col("first_name").is_not_null()).with_columns(
        name=pl.concat_str([pl.col("first_name").map_elements(fold_accents, pl.String).str.to_lowercase(),
                            pl.col("last_name").map_elements(fold_accents, pl.String).str.to_lowercase()], separator=" "))
    holders = names.group_by("name").agg(pl.col("true_person_id").n_unique().alias("people"))
    # the most common full name belongs to many different people, and namesakes are the rule, not rare
    assert holders["people"].max() >= 10
    shared = names.join(holders.filter(pl.col("people") > 1), on="name").height
    assert shared / names.height > 0.3


def test_some_records_swap_first_and_last_name(world):
    firsts, lasts = _by_person(world, "first_name"), _by_person(world, "last_name")
    swapped = [p for p in firsts if set(firsts[p]) & set(lasts.get(p, [])) and
               any(f != lst for f, lst in zip(firsts[p], lasts[p]))]
    assert len(swapped) >= 10


def test_nicknames_accents_and_typos_vary_one_persons_first_name(world):
    firsts = _by_person(world, "first_name")
    nick = accent = 0
    for names in firsts.values():
        distinct = set(names)
        nick += any(n in vocab.NICKNAMES.get(m, []) for n in distinct for m in distinct)
        accent += any(n != m and fold_accents(n) == m for n in distinct for m in distinct)
    assert nick >= 30 and accent >= 10


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def test_phones_come_with_and_without_country_code(world):
    phones = _by_person(world, "phone")
    mixed = 0
    for values in phones.values():
        singles = [v for value in values for v in value.split(";")]
        with_cc = {_digits(v)[-7:] for v in singles if v.startswith(("+", "00"))}
        without = {_digits(v)[-7:] for v in singles if not v.startswith(("+", "00"))}
        mixed += bool(with_cc & without)
    assert mixed >= 50
    international = [v for v in world["phone"].drop_nulls().str.split(";").explode().to_list() if v.startswith("+")]
    valid = sum(phonenumbers.is_valid_number(phonenumbers.parse(v, None)) for v in international[:2000])
    assert valid / min(len(international), 2000) > 0.95


def test_email_variants_and_multiple_values(world):
    emails = world["email"].drop_nulls()
    singles = emails.str.split(";").explode()
    assert singles.str.contains(r"\+[a-z0-9]+@gmail\.com$").sum() > 5                 # plus tags
    assert (singles != singles.str.to_lowercase()).sum() > 20                          # case
    work_domains = {d for _, d, _ in vocab.EMPLOYERS}
    fair = world.filter(pl.col("source") == "career_fair")["email"].drop_nulls()
    assert fair.str.split("@").list.last().is_in(list(work_domains)).mean() > 0.3     # a new employer's address
    assert emails.str.contains(";").sum() > 10 and world["phone"].drop_nulls().str.contains(";").sum() > 10


def test_relatives_share_surname_address_and_phone(world):
    addressed = world.filter(pl.col("address_line").is_not_null() & pl.col("postcode").is_not_null())
    shared = addressed.group_by("address_line", "postcode").agg(pl.col("true_person_id").n_unique().alias("n"))
    assert (shared["n"] > 1).sum() >= 20
    phone_owners = world.select("true_person_id", pl.col("phone").str.split(";")).explode("phone").drop_nulls() \
        .with_columns(pl.col("phone").map_elements(lambda v: _digits(v)[-8:], pl.String))
    assert (phone_owners.group_by("phone").agg(pl.col("true_person_id").n_unique().alias("n"))["n"] > 1).sum() >= 20


def test_people_move_and_some_sources_lack_email_or_phone(world):
    cities = world.filter(pl.col("country").is_in(["US", "GB", "DE", "FR"])).group_by("true_person_id").agg(
        pl.col("country").n_unique().alias("countries"))
    assert (cities["countries"] > 1).sum() >= 10
    by_source = world.group_by("source").agg(pl.col("email").null_count() / pl.len(), pl.col("phone").null_count() / pl.len())
    shares = {s: (e, p) for s, e, p in by_source.iter_rows()}
    assert shares["sms_optin"][0] == 1.0 and shares["career_fair"][1] == 1.0 and shares["referral"][1] == 1.0


def test_optional_columns_on_a_share_of_rows(world):
    for col in ("date_of_birth", "postcode", "address_line", "middle_name", "full_name"):
        share = 1 - world[col].null_count() / world.height
        assert 0.01 < share < 0.6, (col, share)
    board = world.filter(pl.col("source") == "jobboard")
    assert board["first_name"].null_count() > board.height * 0.4  # only full_name, as boards export


def test_second_world_imports_nothing_from_the_project_but_itself():
    for path in OTHERGEN.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                top = name.split(".")[0]
                assert top not in {"sandbox", "warmpool", "cli", "pipelines", "assets", "web", "dashboards"}, (path, name)
                assert top != "benchmarks" or name.startswith("benchmarks.othergen"), (path, name)
    loaded = subprocess.run([sys.executable, "-c", "import sys, benchmarks.othergen.world; "
                             "print(sorted({m.split('.')[0] for m in sys.modules}))"],
                            cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    assert "'sandbox'" not in loaded and "'warmpool'" not in loaded


def test_warmpool_resolve_reads_the_second_world(tmp_path):
    generate(tmp_path, seed=2, people=150)
    out = tmp_path / "resolved.csv"
    done = subprocess.run([str(Path(sys.executable).with_name("warmpool")), "resolve", str(tmp_path / "records.csv"),
                           "--output", str(out)], capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    resolved = pl.read_csv(out, infer_schema=False)
    truth = pl.read_csv(tmp_path / "truth.csv", infer_schema=False)
    assert resolved.height == truth.height and pairwise_scores(resolved, truth).f1 > 0.3


# ---------------------------------------------------------------------------------------------
# baselines

def test_exact_rules_link_on_any_shared_email_or_the_same_name():
    records = pl.DataFrame({
        "source": ["a", "a", "b", "b", "c"], "source_record_id": ["1", "2", "1", "2", "1"],
        "first_name": ["Ann", "ann ", "Bob", None, "Ann"], "last_name": ["Lee", "LEE", "Ray", "Ray", "Lee"],
        "email": ["A@x.com", None, "b@y.com;ann@x.com", "B@Y.com", None]})
    email = exact_rule_clusters(records, ("email",))["cluster_id"].to_list()
    assert email[2] == email[3] and email[0] != email[2] and len(set(email)) == 4  # "ann@x.com" != "a@x.com"
    name = exact_rule_clusters(records, ("name",))["cluster_id"].to_list()
    assert name[0] == name[1] == name[4] and name[3] not in (name[0], name[2])    # no first name, no name match
    both = exact_rule_clusters(records)["cluster_id"].to_list()
    assert both[0] == both[1] == both[4] and both[2] == both[3] and both[0] != both[2]


def test_plain_splink_model_learns_febrl_from_the_input_alone():
    data = febrl(1)
    clusters, report = plain_splink_clusters(data.records)
    assert clusters.select("source", "source_record_id").equals(data.records.select("source", "source_record_id"))
    scores = pairwise_scores(clusters, data.truth, predicted_col="cluster_id")
    exact = pairwise_scores(exact_rule_clusters(data.records), data.truth, predicted_col="cluster_id")
    assert scores.f1 > 0.85 and scores.f1 > exact.f1 + 0.2
    assert {"first_name", "last_name", "dob"} <= set(report.comparisons) and len(report.em_blocking_rules) >= 2
