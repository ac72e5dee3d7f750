"""Search pieces on their own: documents and their hashes, the resumable embedding store, tokens, filters."""
from __future__ import annotations

import numpy as np
import pytest

from warmpool.search.documents import build_document
from warmpool.search.embeddings import EmbeddingStore, Encoder, native_bfloat16
from warmpool.search.filters import FilterError, ProfileTable, SearchFilters
from warmpool.search.geo import city_coordinates, coordinates_of_place
from warmpool.search.keyword import KeywordIndex, KeywordTokens, tokenize
from warmpool.search.ranking import top_k
from warmpool.search.vector_index import VectorIndex, principal_basis

PROFILE = {"person_id": "p1", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@x.example",
           "current_title": "Senior Data Engineer", "current_company": "Acme Labs", "skills": "spark;airflow;sql",
           "years_experience": 7, "seniority": "senior", "job_family": "Data", "city": "London"}


def test_a_document_reads_the_profile_history_and_resume_but_no_name_or_place():
    doc = build_document(PROFILE, [{"title": "Data Engineer", "company_name": "Globex"}],
                         ["Built streaming pipelines in Kafka and Flink."])
    for part in ("Senior Data Engineer at Acme Labs", "spark, airflow, sql", "7 years", "Data Engineer at Globex",
                 "Kafka and Flink"):
        assert part in doc.text
    assert "kafka" in tokenize(doc.keyword_text) and "globex" not in tokenize(doc.keyword_text)
    for private in ("Ada", "Lovelace", "ada@x.example", "London"):
        assert private not in doc.text and private not in doc.keyword_text


def test_the_document_hash_moves_only_with_the_embedded_text():
    base = build_document(PROFILE)
    assert build_document(dict(PROFILE, email="new@x.example", city="Paris")).doc_hash == base.doc_hash
    assert build_document(dict(PROFILE, skills="spark;airflow;sql;dbt")).doc_hash != base.doc_hash


def test_tokens_keep_the_skills_recruiters_type():
    assert tokenize("C++, C#, Node.js and R; CI/CD with the A/B testing.") == \
        ["c++", "c#", "node.js", "r", "ci", "cd", "b", "testing"]  # "a" is a stop word; a/b still matches a/b


KEYWORD_TEXTS = ["Senior Data Engineer \n spark ; airflow ; sql \n Built pipelines in Spark and Kafka.",
                 "Account Executive \n salesforce ; negotiation", "", "C++ developer \n c++ ; c# ; node.js",
                 "Data Analyst \n sql ; tableau ; sql", "Senior Data Engineer \n spark ; airflow ; sql"]


def test_bm25_built_from_token_ids_is_the_index_bm25s_builds_from_the_tokens():
    import bm25s

    corpus = [tokenize(t) or ["\u2205"] for t in KEYWORD_TEXTS * 50]
    theirs = bm25s.BM25(k1=1.5, b=0.75)
    theirs.index(corpus, show_progress=False)
    ours = KeywordIndex.build(KEYWORD_TEXTS * 50)
    assert set(ours._vocab) == set(theirs.vocab_dict)
    for term, column in theirs.vocab_dict.items():
        if term:  # bm25s's empty token has no column
            mine, their = ours._vocab[term], slice(*theirs.scores["indptr"][column:column + 2])
            mine = slice(*ours._bm25.scores["indptr"][mine:mine + 2])
            assert np.array_equal(ours._bm25.scores["indices"][mine], theirs.scores["indices"][their])
            assert np.array_equal(ours._bm25.scores["data"][mine], theirs.scores["data"][their])  # bit for bit
    for query in ("senior data engineer", "sql", "c++ node.js", "nobody knows this"):
        assert np.array_equal(ours.scores(query), KeywordIndex(theirs).scores(query))


def test_tokens_kept_from_the_last_index_equal_tokenizing_again(tmp_path):
    before = KeywordTokens.of(KEYWORD_TEXTS)
    before.save(tmp_path)
    # a changed text, a text gone (its words "tableau" and "analyst" with it), a new one, the order moved
    now = [KEYWORD_TEXTS[3], KEYWORD_TEXTS[0] + " and Flink", KEYWORD_TEXTS[1], "Rust engineer \n rust", "",
           KEYWORD_TEXTS[5]]
    rows = np.array([3, -1, 1, -1, 2, 5])
    kept = KeywordTokens.of(now, KeywordTokens.load(tmp_path), rows)
    fresh = KeywordTokens.of(now)
    assert kept.vocab == fresh.vocab and "tableau" not in kept.vocab and "rust" in kept.vocab
    assert np.array_equal(kept.ids, fresh.ids) and np.array_equal(kept.indptr, fresh.indptr)


class CountingEncoder(Encoder):
    """The real model; counts what it was asked to embed."""

    def __init__(self):
        super().__init__()
        self.texts = 0

    def encode(self, texts):
        self.texts += len(texts)
        return super().encode(texts)


def test_the_embedding_store_resumes_and_never_embeds_a_document_twice(tmp_path):
    texts = [f"Engineer number {i} who knows python and sql" for i in range(10)]
    hashes = [f"{i:032x}" for i in range(10)]
    encoder = CountingEncoder()
    store = EmbeddingStore(tmp_path / "emb")

    class Stop(Exception):
        pass

    def stop_after_first_chunk(p):
        if p.done == 4:
            raise Stop  # the process dies after one committed chunk

    with pytest.raises(Stop):
        store.embed_missing(hashes, texts, encoder, chunk_size=4, progress=stop_after_first_chunk)
    assert encoder.texts == 4
    store = EmbeddingStore(tmp_path / "emb")  # a new process: only the committed chunk is there
    assert store.embed_missing(hashes, texts, encoder, chunk_size=4) == 6
    assert encoder.texts == 10
    assert store.embed_missing(hashes, texts, encoder) == 0 and encoder.texts == 10
    vectors = store.vectors_for(hashes)
    assert np.allclose(vectors, encoder.encode(texts), atol=1e-5)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert store.compact(hashes[:3]) == 7
    assert len(EmbeddingStore(tmp_path / "emb")) == 3


def test_filters_are_checked_and_kept_verbatim():
    f = SearchFilters.from_dict({"country": "DE", "skills": "python; sql", "active_since": "2026-01-31",
                                 "contactable_only": True})
    assert f.as_dict() == {"country": "DE", "skills": ["python", "sql"], "active_since": "2026-01-31",
                           "contactable_only": True}
    with pytest.raises(FilterError, match="unknown filter"):
        SearchFilters.from_dict({"colour": "blue"})
    with pytest.raises(FilterError, match="radius"):
        SearchFilters(near="Berlin")


def test_a_segment_filter_keeps_its_members_and_refuses_an_unknown_segment_naming_the_known_ones():
    import pandas as pd

    profiles = pd.DataFrame({"person_id": ["p1", "p2", "p3", "p4"], "country": ["Germany"] * 3 + ["France"],
                             "segments": ["engineering-and-data;experienced-sales", "experienced-sales", None,
                                          "engineering-and-data"]})
    table = ProfileTable.from_frame(profiles, ["engineering-and-data", "experienced-sales", "nobody-yet"])
    rows = table.mask(SearchFilters(segment="engineering-and-data"))
    assert profiles.loc[rows, "person_id"].tolist() == ["p1", "p4"]
    both = table.mask(SearchFilters.from_dict({"segment": "experienced-sales", "country": "Germany"}))
    assert profiles.loc[both, "person_id"].tolist() == ["p1", "p2"]
    assert not table.mask(SearchFilters(segment="nobody-yet")).any()   # known, no members: no one, no error
    assert SearchFilters.from_dict({"segment": "experienced-sales"}).as_dict() == {"segment": "experienced-sales"}
    with pytest.raises(FilterError) as refused:
        table.mask(SearchFilters(segment="sales-people"))
    assert str(refused.value) == ("unknown segment 'sales-people'; known segments: engineering-and-data, "
                                  "experienced-sales, nobody-yet")


def test_places_have_coordinates_by_any_of_their_names():
    assert city_coordinates("München", "DE") == city_coordinates("Munich", "Germany")
    assert city_coordinates("Bangalore", "IN") is not None and city_coordinates("Nowheresville", "US") is None
    lat, lon = coordinates_of_place("Berlin, DE")
    assert 52 < lat < 53 and 13 < lon < 14
    assert coordinates_of_place("40.7,-74.0") == (40.7, -74.0)


def test_the_sourcing_store_loads_into_the_warehouse_once(warmpool_home):
    """Pipelines and their events reach raw_sourcing incrementally: a second load brings nothing twice."""
    from pipelines.sourcing_store import run_sourcing_store
    from warmpool.config import get_settings
    from warmpool.search import sourcing_store as store
    from warmpool.warehouse import warehouse

    settings = get_settings().ensure_dirs()
    with store.sourcing_store(settings.sourcing_store_path) as con:
        pid = store.create_pipeline(con, "Backend 2026", "alice", 4500001, ["warmpool"])
        store.add_members(con, pid, ["p1", "p2", "p1"], "alice", "hand")
        store.set_stage(con, pid, "p2", "contacted", "alice")
    assert run_sourcing_store(settings) == {"pipeline_events": 3, "pipelines": 1}
    assert run_sourcing_store(settings) == {"pipeline_events": 0, "pipelines": 0}
    with store.sourcing_store(settings.sourcing_store_path) as con:
        store.add_members(con, pid, ["p3"], "bob", "search")
    assert run_sourcing_store(settings)["pipeline_events"] == 1
    with warehouse(settings.warehouse_path, read_only=True) as wh:
        events = wh.execute("select person_id, event, stage from raw_sourcing.pipeline_events order by event_seq").fetchall()
    assert events == [("p1", "added", "identified"), ("p2", "added", "identified"), ("p2", "stage_changed", "contacted"),
                      ("p3", "added", "identified")]


@pytest.mark.skipif(not native_bfloat16(), reason="this CPU has no native bfloat16: the encoder stays in float32")
def test_bfloat16_embeddings_rank_like_float32_ones():
    # the fast path must not change what a search finds: the same neighbours, near-identical vectors
    texts = ["Senior data engineer, python, spark, airflow", "Account executive, enterprise sales, salesforce",
             "Registered nurse, ICU, patient care", "Staff backend engineer, go, kubernetes, postgres",
             "Warehouse operations manager, logistics, lean"]
    fast, exact = Encoder(precision="bfloat16").encode(texts), Encoder(precision="float32").encode(texts)
    assert not np.array_equal(fast, exact)  # the bfloat16 path really ran
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert (fast * exact).sum(axis=1).min() > 0.999
    queries = Encoder(precision="float32").encode(["python data pipelines", "hospital nursing jobs", "b2b sales"])
    assert ((queries @ fast.T).argmax(axis=1) == [0, 2, 1]).all()
    assert np.abs(queries @ fast.T - queries @ exact.T).max() < 0.01  # scores move by less than a rounding


def test_a_filter_against_the_query_still_finds_the_k_nearest_people_it_allows():
    """An engineering query filtered to the sales family: the allowed rows are far from the query, the
    graph walk comes up short, and the compressed scan answers with the same people an exact scan finds."""
    rng = np.random.default_rng(5)
    d, per_family = 48, 3000
    centres = rng.normal(size=(2, d)).astype(np.float32) * 3
    vectors = np.vstack([centres[f] + rng.normal(size=(per_family, d)).astype(np.float32) for f in (0, 1)])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    sales = np.arange(len(vectors)) >= per_family
    index = VectorIndex(vectors, VectorIndex.build(vectors, min_rows_for_graph=0).graph,
                        principal_basis(vectors, dims=16), exact_max_rows=0, coarse_min_rows=0,
                        walk_min_rows=0)
    methods = set()
    for q in vectors[rng.choice(per_family, 20, replace=False)]:  # engineering people as queries
        rows, sims, how = index.search(q, 10, sales)
        methods.add(how)
        exact_rows, exact_sims = index.exact(q, 10, sales)
        assert len(rows) == 10 and sales[rows].all()
        assert len(set(rows) & set(exact_rows)) >= 9 and np.all(np.diff(sims) <= 0)
        assert index.walk_would_miss(q, sales, sales.mean())  # told before walking, so no walk is wasted
    assert methods == {"compressed"}
    engineering = ~sales  # a filter with the query: the graph answers
    walked = [index.search(q, 10, engineering)[2] for q in vectors[rng.choice(per_family, 20, replace=False)]]
    assert walked.count("hnsw") >= 18


def test_a_filter_allowing_few_rows_is_scanned_and_finds_the_exact_nearest_people():
    """Below ``walk_min_rows`` allowed rows the graph is not walked (it would need its widest beam and
    still miss people): a scan answers with the exact scan's top k; above it the graph answers."""
    rng = np.random.default_rng(11)
    vectors = rng.normal(size=(6000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(vectors, VectorIndex.build(vectors, min_rows_for_graph=0).graph,
                        principal_basis(vectors, dims=16), exact_max_rows=0, coarse_min_rows=0, walk_min_rows=1000)
    few, many = rng.random(len(vectors)) < 0.1, rng.random(len(vectors)) < 0.9
    for q in vectors[:10]:
        rows, _, how = index.search(q, 10, few)
        assert how != "hnsw" and set(rows) >= set(index.exact(q, 10, few)[0][:8])
        assert index.search(q, 10, many)[2] == "hnsw"


@pytest.mark.parametrize("shape", ["random", "ascending", "descending", "ties", "mostly_zero"])
def test_the_best_k_scores_are_exactly_those_a_full_sort_gives(shape):
    """The fast top-k (a sampled threshold, then a small partition) equals a full sort: ties go to the
    lower row, so the same query returns the same people every time."""
    rng = np.random.default_rng(3)
    n = 300_000
    scores = {"random": rng.normal(size=n), "ascending": np.sort(rng.normal(size=n)),
              "descending": -np.sort(rng.normal(size=n)), "ties": rng.integers(0, 50, n),
              "mostly_zero": np.where(rng.random(n) < 0.001, rng.random(n), 0)}[shape].astype(np.float32)
    for k in (1, 10, 2000):
        expected = np.lexsort((np.arange(n), -scores))[:k]
        assert top_k(scores, k).tolist() == expected.tolist()
    assert top_k(scores[:5], 10).tolist() == np.lexsort((np.arange(5), -scores[:5])).tolist()


def test_the_compressed_scan_scores_allowed_rows_the_same_whether_it_gathers_them_or_reads_whole_blocks():
    """A filter allowing a dense run of rows (a job family, rows ordered by family) and scattered rows
    elsewhere: every allowed row gets the score the compressed copy gives it, and the search finds the
    same people as an exact scan."""
    rng = np.random.default_rng(11)
    vectors = (rng.normal(size=(60_000, 8)) @ rng.normal(size=(8, 24)) + 0.05 * rng.normal(size=(60_000, 24)))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)  # like embeddings: few directions matter
    index = VectorIndex(vectors, None, principal_basis(vectors, dims=12), coarse_min_rows=0)
    mask = np.zeros(len(vectors), dtype=bool)
    mask[20_000:45_000] = True                       # dense blocks: scored whole
    mask[rng.choice(20_000, 300, replace=False)] = True  # sparse: gathered
    rows = np.flatnonzero(mask)
    for q in vectors[rng.choice(len(vectors), 5, replace=False)]:
        projected = index.basis[1:] @ q
        assert np.allclose(index._coarse_scores(projected, rows, mask), index.coarse[rows] @ projected, atol=1e-5)
        found, _, how = index.scan(q, 10, mask, len(rows))
        assert how == "compressed" and mask[found].all()
        assert len(set(found) & set(index.exact(q, 10, mask)[0])) >= 9
