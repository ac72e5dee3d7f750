"""Identity resolution: every source record -> a person, with stable person ids.

The operations other code calls (the CLI, the Dagster assets, notebooks, benchmarks):

    resolve_pool(con)                 the warehouse's source records -> identity.* (full or incremental)
    resolve_warehouse(settings)       resolve_pool on the configured warehouse (DuckDB file or PostgreSQL)
    resolve_csv(IN, OUT)              the `warmpool resolve` contract; resolve_frame for frames
    match_incremental(new, pool)      new records against an already-resolved frame
    plan_pool(pool_features, model)   a pool prepared once for look-ups (its blocking plan and keys)
    score_against_pool(new, pool)     how sure each new record is each pool record (search first)
    explain_person(con, person_id)    a person's records and the evidence holding them together
    open_items / decide / unmerge     the review queue, reviewers' decisions, splitting a person
    retrain_on_pool / promote_model   a candidate model from the pool; making it the one every run loads
    train_model                       estimating a model on records (the shipped one: sandbox worlds)
    pairwise_scores                   pairwise precision / recall / F1 against a truth (febrl4_records,
                                      naive_rule_clusters: a public benchmark and the naive baseline)
    canonical_person_id(con, id)      the current id of any id ever issued

Modules, each importing only those above it in this list (an import-linter contract checks it):

    normalize, keys   contract columns -> matching features (pure); record keys
    features          the features a model reads, term frequencies
    model             the Splink settings and the saved, versioned model
    scoring           pairs scored with the model (Splink)
    clustering        connected components, decisions and the guard against chaining
    history           stable person ids, merges and splits (pure)
    store             the identity.* tables and the feature cache: the only SQL
    review            the review queue, decisions, unmerge
    resolve, evaluate frames and CSV files; pairwise scores and benchmark data
    pool, explain     the warehouse pool runs; why a person is one person
    retrain           training, retraining on the pool, promoting
"""
from warmpool.identity.estimate import MODES as MODEL_MODES
from warmpool.identity.evaluate import PairwiseScores, febrl4_records, naive_rule_clusters, pairwise_scores
from warmpool.identity.explain import Explanation, explain_person
from warmpool.identity.features import features_for_model, splink_table, term_counts
from warmpool.identity.model import MODEL_PATH, TrainedModel, load_model
from warmpool.identity.pool import resolve_pool, resolve_warehouse
from warmpool.identity.reader import ResolveInputError, read_contract_csv
from warmpool.identity.resolve import (ResolveStats, match_incremental, resolve_csv, resolve_frame, resolve_records,
                                      score_against_pool)
from warmpool.identity.retrain import RetrainReport, promote_model, retrain_on_pool, train_model
from warmpool.identity.review import Applied, ReviewError, decide, open_items, parse_record_key, unmerge
from warmpool.identity.scoring import PlannedPool, plan_pool
from warmpool.identity.store import canonical_person_id

__all__ = [
    "Applied", "Explanation", "MODEL_MODES", "MODEL_PATH", "PairwiseScores", "ResolveInputError", "ResolveStats", "RetrainReport",
    "PlannedPool", "ReviewError", "TrainedModel", "canonical_person_id", "decide", "explain_person", "febrl4_records",
    "features_for_model", "load_model", "match_incremental", "naive_rule_clusters", "open_items", "pairwise_scores",
    "parse_record_key", "plan_pool", "promote_model", "read_contract_csv", "resolve_csv", "resolve_frame", "resolve_pool",
    "resolve_records", "resolve_warehouse", "retrain_on_pool", "score_against_pool",
    "splink_table", "term_counts", "train_model", "unmerge",
]
