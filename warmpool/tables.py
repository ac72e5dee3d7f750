"""The one place that knows each warehouse table's name.

Schemas in ``warehouse.duckdb``:
  raw_ats, raw_vendors, raw_forms, raw_email   dlt datasets (one per source family)
  raw_eeo                                      EEO self-identification (dlt), kept apart from the profile
  raw_campaigns                                the campaigns and segments declared in config, loaded before dbt runs
  raw_sends                                    the send ledger (dlt, incremental), loaded after each send
  quarantine                                   rows rejected at the boundary, with the reason
  identity                                     record→person assignment written by identity resolution
  spellings                                    the pool's distinct names, places, skills normalised (warmpool.spellings)
  staging, intermediate, marts                 dbt layers (marts are the contract other tools read)
"""
from __future__ import annotations

# dlt datasets (schemas)
RAW_ATS = "raw_ats"
RAW_VENDORS = "raw_vendors"
RAW_FORMS = "raw_forms"
RAW_EMAIL = "raw_email"
RAW_SOURCING = "raw_sourcing"      # pipelines and their events, from the sourcing store (warmpool.search)
RAW_EEO = "raw_eeo"  # EEO self-identification from the ATS: apart from the candidate profile, aggregates only
RAW_CAMPAIGNS = "raw_campaigns"  # campaigns and segments declared in config (not dlt: tables rewritten)
RAW_SENDS = "raw_sends"          # the send ledger's rows (dlt, merged on the ledger key)
QUARANTINE = "quarantine"
IDENTITY = "identity"
SPELLINGS = "spellings"  # written between dbt's two phases by warmpool.spellings, read by dbt as sources
RUN = "warmpool_run"     # what a run tells dbt through the warehouse, not its command line (RUN_CLOCK)
STAGING = "staging"
INTERMEDIATE = "intermediate"
MARTS = "marts"

CAMPAIGN_DEFINITIONS = f"{RAW_CAMPAIGNS}.campaigns"
SEGMENT_DEFINITIONS = f"{RAW_CAMPAIGNS}.segments"      # config/segments/*.yaml, normalised
LEDGER_SENDS = f"{RAW_SENDS}.sends"
EEO_SELF_IDENTIFICATION = f"{RAW_EEO}.self_identification"  # one row per application that answered
EEO_APPLICANT_AGGREGATES = "marts.rpt_eeo_applicants"           # the only way EEO data reaches a dashboard

# quarantine
QUARANTINED_ROWS = f"{QUARANTINE}.rejected_rows"
VALIDATED_ROW_COUNTS = f"{QUARANTINE}.row_counts"  # per check and table: rows at the last load (row-count drops)

# identity resolution inputs / outputs
SOURCE_RECORDS = f"{INTERMEDIATE}.int_source_records"        # one row per source record, resolve-contract columns
SOURCE_RECORDS_UNIONED = f"{INTERMEDIATE}.int_source_records_unioned"  # every source's records, as written
NAME_SPELLINGS = f"{SPELLINGS}.name_spellings"      # first / last name spelling -> case-repaired, vote key
PLACE_SPELLINGS = f"{SPELLINGS}.place_spellings"    # (city, region, country) as written -> ISO / GeoNames place
SKILL_SPELLINGS = f"{SPELLINGS}.skill_spellings"    # skill list as written -> normalised list
PERSON_ASSIGNMENTS = f"{IDENTITY}.source_record_person"        # source, source_record_id, person_id, ...
PERSON_MERGES = f"{IDENTITY}.person_merge_history"             # retired person_id -> surviving person_id
RECORD_HASHES = f"{IDENTITY}.source_record_hashes"            # content hash per record at the last run (incremental)
RESOLUTION_RUNS = f"{IDENTITY}.resolution_runs"                # one row per resolve / review / unmerge run
PERSON_ID_MAP = f"{IDENTITY}.person_id_map"                    # any person_id ever issued -> current person_id
RUN_CLOCK = f"{RUN}.clock"                                      # "today" of the run dbt is building for (one row)
RECORD_PAIRS = f"{IDENTITY}.record_pairs"                      # scored pairs of the last run (>= review band low)
REVIEW_QUEUE = f"{IDENTITY}.review_queue"                      # uncertain pairs for a reviewer
REVIEW_DECISIONS = f"{IDENTITY}.review_decisions"              # append-only link / separate decisions

# marts read by other tools
DIM_CANDIDATES = f"{MARTS}.dim_candidates"
DIM_CANDIDATE_WORK_HISTORY = f"{MARTS}.dim_candidate_work_history"
DIM_CANDIDATE_RESUMES = f"{MARTS}.dim_candidate_resumes"       # resume text per person and source record
BRIDGE_CANDIDATE_RECORDS = f"{MARTS}.bridge_candidate_records"
DIM_JOBS = f"{MARTS}.dim_jobs"
FCT_APPLICATIONS = f"{MARTS}.fct_applications"
AUDIENCE_MEMBERS = f"{MARTS}.audience_members"
SEGMENT_MEMBERS = f"{MARTS}.segment_members"               # segment, segment_version, person_id
FCT_PIPELINE_MEMBERS = f"{MARTS}.fct_pipeline_members"     # the search area's pipelines and their people
CAMPAIGN_PERFORMANCE = f"{MARTS}.rpt_campaign_performance"

# the source keys used in `source` columns everywhere
SOURCE_ATS = "ats"
SOURCE_TALENT_NETWORK = "talent_network"
SOURCE_REFERRAL = "referral"
