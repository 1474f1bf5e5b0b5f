"""The Search plugin over the local SQLite FTS5 index: loading, ranking, hostile queries,
unicode, run-time additions, configuration and the snippets the model reads."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.dispatch import Dispatcher
from moss_core.errors import PluginError
from moss_core.protocol import Call
from plugins.registry import default_registry, installed
from plugins.search import (
    ENV_CORPUS,
    SAMPLE_CORPUS,
    SNIPPET_CHARS,
    Hit,
    LocalIndex,
    SearchBackend,
    SearchError,
    WebSearch,
    configure,
    get_backend,
    search,
)
from plugins.search.base import make_snippet, query_terms
from plugins.search.local import fts_query

DOCS = [
    {"id": i, "title": t, "text": x}
    for i, t, x in [
        ("jupiter", "Jupiter", "Jupiter is the largest planet. It has many moons."),
        ("mars", "Mars", "Mars is a small red planet with two moons."),
        ("bread", "Bread", "Bread is baked from flour, water and yeast."),
        ("cpp", "C++", "C++ is a programming language made by Bjarne Stroustrup."),
        ("cafe", "Café culture", "A café in Paris serves strong coffee."),
        ("beijing", "北京", "北京是中国的首都。故宫在北京。"),
        ("tokyo", "東京", "東京は日本の首都です。"),
    ]
]


@pytest.fixture(autouse=True)
def _fresh_configuration(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(ENV_CORPUS, raising=False)
    configure()
    yield
    configure()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in DOCS) + "\n", "utf-8")
    return path


@pytest.fixture
def index(corpus: Path) -> LocalIndex:
    return LocalIndex.from_path(corpus)


def ids(hits: list[Hit]) -> list[str]:
    return [h.id for h in hits]


# -- loading --------------------------------------------------------------------------------------
def test_jsonl_documents_are_indexed_with_their_fields(index: LocalIndex) -> None:
    assert index.count() == len(index) == len(DOCS)
    (hit,) = index.search("Stroustrup", 1)
    assert hit == Hit(id="cpp", title="C++", text=DOCS[3]["text"], url="")


def test_folder_of_text_files_ids_are_relative_paths_and_titles_first_lines(
    tmp_path: Path,
) -> None:
    (tmp_path / "notes" / "deep").mkdir(parents=True)
    (tmp_path / "notes" / "tea.md").write_text("# Green tea\n\nGreen tea is steamed.\n", "utf-8")
    (tmp_path / "notes" / "deep" / "kiln.txt").write_text(
        "\nPottery kilns\nA kiln fires clay.\n", "utf-8"
    )
    (tmp_path / "notes" / "image.png").write_bytes(b"\x89PNG not text")
    index = LocalIndex.from_path(tmp_path / "notes")
    assert index.count() == 2
    (tea,) = index.search("steamed tea", 1)
    assert (tea.id, tea.title, tea.text) == ("tea.md", "Green tea", "Green tea is steamed.")
    (kiln,) = index.search("clay", 1)
    assert (kiln.id, kiln.title) == ("deep/kiln.txt", "Pottery kilns")
    assert kiln.text == "A kiln fires clay."


def test_bad_jsonl_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "text": "fine"}\n{"id": "b", "text": \n', "utf-8")
    with pytest.raises(PluginError, match=r"bad\.jsonl line 2"):
        LocalIndex.from_path(path)
    path.write_text('{"id": "a", "title": "no text"}\n', "utf-8")
    with pytest.raises(PluginError, match='needs a "text"'):
        LocalIndex.from_path(path)


def test_a_jsonl_corpus_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"id": "a", "text": "fine"}\n{"id": "b", "text": "caf\xe9"}\n')
    with pytest.raises(PluginError, match=r"latin1\.jsonl line 2 is not UTF-8"):
        LocalIndex.from_path(path)


def test_a_text_file_that_is_not_utf8_is_indexed_and_named_in_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "good.md").write_text("# Bread\nBread needs yeast.\n", "utf-8")
    (tmp_path / "old.txt").write_bytes(b"Coffee\nA caf\xe9 in Paris serves strong coffee.\n")
    with caplog.at_level(logging.WARNING, logger="plugins.search.local"):
        index = LocalIndex.from_path(tmp_path)
    assert index.count() == 2
    assert ids(index.search("strong coffee")) == ["old.txt"]
    assert [r.getMessage().split(" is not")[0] for r in caplog.records] == [
        str(tmp_path / "old.txt")
    ]
    assert "Convert it to UTF-8" in caplog.records[0].getMessage()


def test_missing_or_unsupported_corpus_says_what_is_accepted(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="does not exist"):
        LocalIndex.from_path(tmp_path / "nowhere.jsonl")
    (tmp_path / "a.pdf").write_bytes(b"%PDF")
    with pytest.raises(PluginError, match=r"\.jsonl, \.txt and \.md"):
        LocalIndex.from_path(tmp_path / "a.pdf")


def test_sample_corpus_answers_a_first_question() -> None:
    index = LocalIndex.from_path(SAMPLE_CORPUS)
    assert 25 <= index.count() <= 40
    assert index.search("Which planet is the largest?", 1)[0].id == "jupiter"
    assert index.search("长城", 1)[0].id == "great-wall-zh"


# -- ranking --------------------------------------------------------------------------------------
def test_more_matching_terms_rank_higher(index: LocalIndex) -> None:
    assert ids(index.search("largest planet"))[0] == "jupiter"
    assert ids(index.search("red planet"))[0] == "mars"
    assert set(ids(index.search("planet"))) == {"jupiter", "mars"}


def test_stemming_and_diacritics_match(index: LocalIndex) -> None:
    assert set(ids(index.search("planets"))) == {"jupiter", "mars"}
    assert ids(index.search("baking breads"))[0] == "bread"
    assert ids(index.search("cafe"))[0] == "cafe"


def test_no_shared_term_gives_no_hits_and_the_plugin_fails(corpus: Path) -> None:
    configure(corpus=corpus)
    assert get_backend().search("xylophone zeppelin") == []
    with pytest.raises(SearchError, match="found nothing"):
        search("xylophone zeppelin")


def test_stopwords_alone_do_not_match_everything(index: LocalIndex) -> None:
    assert query_terms("what is the capital") == ["capital"]
    assert query_terms("what is the") == ["what", "is", "the"]  # nothing else left: keep them


# -- hostile queries ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query",
    [
        '"AND OR NOT (',
        "c++ -x:y",
        "NEAR(planet moon, 2)",
        "title:Jupiter",
        "jupiter*",
        "^planet",
        "planet'); DROP TABLE docs; --",
        '"unbalanced planet',
        "{title body}: planet",
        "planet AND NOT moons",
    ],
)
def test_fts_syntax_in_queries_never_reaches_sqlite(index: LocalIndex, query: str) -> None:
    try:
        hits = index.search(query)
    except SearchError as exc:  # the only acceptable failure: nothing searchable in it
        assert "no searchable word" in str(exc)
    except sqlite3.Error as exc:  # pragma: no cover - this is the bug the test guards against
        pytest.fail(f"FTS5 syntax leaked into the query {query!r}: {exc}")
    else:
        assert all(isinstance(h, Hit) for h in hits)
    assert index.count() == len(DOCS)


def test_hostile_queries_still_find_their_words(index: LocalIndex) -> None:
    assert ids(index.search("c++ -x:y"))[0] == "cpp"
    assert ids(index.search("title:Jupiter"))[0] == "jupiter"
    assert ids(index.search("planet'); DROP TABLE docs; --"))[0] in {"jupiter", "mars"}
    assert fts_query('"AND OR NOT (') == '"not"'


def test_query_without_words_is_a_clear_error(index: LocalIndex) -> None:
    with pytest.raises(SearchError, match="no searchable word"):
        index.search('"( ) : - * ^')


# -- unicode --------------------------------------------------------------------------------------
def test_chinese_and_japanese_are_found_inside_unspaced_text(index: LocalIndex) -> None:
    assert ids(index.search("故宫"))[0] == "beijing"
    assert ids(index.search("中国的首都是哪里？"))[0] == "beijing"
    assert ids(index.search("日本の首都"))[0] == "tokyo"


def test_chinese_snippet_starts_at_the_best_sentence(corpus: Path) -> None:
    configure(corpus=corpus)
    assert search("故宫在哪里")[0] == "北京: 故宫在北京。"


# -- failures -------------------------------------------------------------------------------------
def test_empty_index_fails_with_a_clear_message() -> None:
    with pytest.raises(SearchError, match="index is empty"):
        LocalIndex().search("anything")
    configure(backend="local")
    with pytest.raises(SearchError, match=r"configure\(corpus=PATH\)"):
        search("anything")


def test_a_failure_logs_exactly_one_line(caplog: pytest.LogCaptureFixture) -> None:
    configure(backend="local")
    with caplog.at_level(logging.WARNING):
        [result] = Dispatcher(default_registry()).run([Call("Search", "anything")])
    assert not result.ok and "empty" in (result.error or "")
    [line] = caplog.records  # the dispatcher's; the plugin itself does not log it again
    assert line.getMessage().startswith('Search("anything") failed: SearchError:')


def test_blank_query_fails() -> None:
    with pytest.raises(SearchError, match="non-empty"):
        search("   ")


# -- snippets -------------------------------------------------------------------------------------
def test_plugin_returns_top_three_snippets_cut_to_400_chars(tmp_path: Path) -> None:
    long_text = " ".join(f"Sentence {i} mentions the telescope mirror." for i in range(60))
    docs = [{"id": f"d{i}", "title": f"Telescope {i}", "text": long_text} for i in range(5)]
    path = tmp_path / "long.jsonl"
    path.write_text("\n".join(json.dumps(d) for d in docs), "utf-8")
    configure(corpus=path)
    snippets = search("telescope mirror")
    assert len(snippets) == 3
    for s in snippets:
        assert len(s) <= SNIPPET_CHARS
        assert s.startswith("Telescope ")
        assert s.endswith("…")
        assert "telescope mirror" in s


def test_snippet_is_title_then_passage_with_the_query_terms() -> None:
    hit = Hit("x", "Bread", "Flour is milled. Yeast makes dough rise.\n\nOvens bake it.")
    assert make_snippet(hit, "why does dough rise") == (
        "Bread: Yeast makes dough rise. Ovens bake it."
    )
    assert make_snippet(hit, "unrelated") == (
        "Bread: Flour is milled. Yeast makes dough rise. Ovens bake it."
    )
    assert make_snippet(Hit("y", "", "Just text."), "text") == "Just text."


def test_numbers_with_decimal_points_are_not_sentence_breaks() -> None:
    hit = Hit("m", "Moon", "The Moon orbits every 27.3 days. Tides follow it.")
    assert make_snippet(hit, "how many days is the orbit") == (
        "Moon: The Moon orbits every 27.3 days. Tides follow it."
    )


# -- run-time additions and storage ---------------------------------------------------------------
def test_documents_added_while_running_are_searchable_and_counted(tmp_path: Path) -> None:
    configure(backend="local")
    index = get_backend()
    assert isinstance(index, LocalIndex)
    assert index.count() == 0
    upload = tmp_path / "upload.md"
    upload.write_text("# Sourdough\nA starter of wild yeast leavens sourdough.", "utf-8")
    assert index.add_path(upload) == 1
    assert index.count() == 1
    assert search("wild yeast") == ["Sourdough: A starter of wild yeast leavens sourdough."]


def test_re_adding_an_id_replaces_the_document(index: LocalIndex) -> None:
    index.add("bread", "Bread", "Rye bread is dense and sour.")
    assert index.count() == len(DOCS)
    assert ids(index.search("rye")) == ["bread"]
    assert index.search("yeast flour") == []


def test_on_disk_index_survives_reopening(tmp_path: Path, corpus: Path) -> None:
    db = tmp_path / "index.sqlite"
    first = LocalIndex.from_path(corpus, db=db)
    first.close()
    again = LocalIndex(db)
    assert again.count() == len(DOCS)
    assert ids(again.search("yeast"))[0] == "bread"
    again.add_path(corpus)  # loading the same corpus again does not duplicate it
    assert again.count() == len(DOCS)
    again.close()


def test_concurrent_adds_and_searches_are_safe(index: LocalIndex) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                index.add(f"t{n}-{i}", "Thread doc", f"Worker {n} wrote note {i} about comets.")
                index.search("comets planet")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert index.count() == len(DOCS) + 80


# -- configuration --------------------------------------------------------------------------------
def test_default_backend_is_web_without_a_corpus() -> None:
    assert isinstance(get_backend(), WebSearch)


def test_a_configured_corpus_selects_the_local_backend(corpus: Path) -> None:
    configure(corpus=corpus)
    backend = get_backend()
    assert isinstance(backend, LocalIndex)
    assert backend.count() == len(DOCS)
    assert get_backend() is backend  # built once, reused
    configure(corpus=corpus, backend="web")
    assert isinstance(get_backend(), WebSearch)


def test_environment_variable_names_the_corpus(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_CORPUS, str(corpus))
    configure()
    backend = get_backend()
    assert isinstance(backend, LocalIndex) and backend.count() == len(DOCS)


def test_on_disk_db_through_configure(tmp_path: Path, corpus: Path) -> None:
    configure(corpus=corpus, db=tmp_path / "kb.sqlite")
    assert search("yeast")[0].startswith("Bread:")
    assert (tmp_path / "kb.sqlite").stat().st_size > 0


def test_a_ready_backend_object_can_be_configured(index: LocalIndex) -> None:
    configure(backend=index)
    assert get_backend() is index


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"backend": "bing"}, 'use "local" or "web"'),
        ({"backend": 42}, r"search\(query, k\)"),
        ({"corpus": "/no/such/corpus.jsonl"}, "does not exist"),
        ({"timeout": 0}, "positive"),
    ],
)
def test_bad_configuration_is_refused_with_a_fix(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(PluginError, match=message):
        configure(**kwargs)  # type: ignore[arg-type]


def test_a_malformed_corpus_fails_at_configure_and_keeps_the_previous_one(
    tmp_path: Path, corpus: Path
) -> None:
    configure(corpus=corpus)
    good = get_backend()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "fine"}\n{"id": "b"\n', "utf-8")
    with pytest.raises(PluginError, match=r"bad\.jsonl line 2 is not JSON"):
        configure(corpus=bad)
    assert get_backend() is good
    assert search("yeast")[0].startswith("Bread:")


def test_concurrent_first_use_builds_one_backend(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A corpus named by the environment is indexed on first use, by exactly one thread.
    monkeypatch.setenv(ENV_CORPUS, str(corpus))
    configure()
    seen: list[SearchBackend] = []
    threads = [threading.Thread(target=lambda: seen.append(get_backend())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(b) for b in seen}) == 1


# -- registration ---------------------------------------------------------------------------------
def test_search_is_registered_as_a_snippet_plugin() -> None:
    p = installed.get("Search")
    assert (p.label, p.api, p.layout) == ("Web search", "Search(query)", "snippets")
    assert p.func is search
    assert isinstance(LocalIndex(), SearchBackend)
    assert isinstance(WebSearch(), SearchBackend)
