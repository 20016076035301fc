"""Revocation of consent by any reasonable means: the corpus, the cases the rule names, and the keyword contract."""

import csv
from pathlib import Path

import pytest

from chalicelib.errors import ValidationFailed
from chalicelib.services import campaigns
from chalicelib.services.keywords import OPT_OUT_WORDS, KeywordKind, classify

CORPUS = Path(__file__).parent / "data" / "revocations.csv"
OUTCOMES = {None: "none", **{kind: kind.value.removesuffix("_opt_out") for kind in KeywordKind}}


def outcome(message, campaign_of=None):
    keyword = classify(message, campaign_of)
    return OUTCOMES[keyword and keyword.kind], keyword


with CORPUS.open(encoding="utf-8", newline="") as corpus:
    ROWS = list(csv.DictReader(corpus))


def test_corpus_is_broad():
    assert len(ROWS) >= 150
    assert {row["expected"] for row in ROWS} == {"opt_out", "possible", "none", "opt_in", "help"}
    assert any("\n" in row["message"] for row in ROWS)
    assert sum(row["language"] == "es" for row in ROWS) >= 20


@pytest.mark.parametrize("row", ROWS, ids=[f"{n}-{row['category']}" for n, row in enumerate(ROWS)])
def test_corpus_message_classifies_as_expected(row):
    found, keyword = outcome(row["message"])
    assert found == row["expected"], row["message"]
    if found in ("opt_out", "possible"):
        assert keyword.language == row["language"]


@pytest.mark.parametrize(
    ("message", "word", "language"),
    [
        ("Stop texting me", "STOP", "en"),
        ("STOP STOP", "STOP", "en"),
        ("please unsubscribe", "UNSUBSCRIBE", "en"),
        ("Stop it!", "STOP", "en"),
        ("STOP\nSent from my iPhone", "STOP", "en"),
        ("Unsubscribe me please 🙏", "UNSUBSCRIBE", "en"),
        ("stop!!!", "STOP", "en"),
        ("STOP NOW", "STOP", "en"),
        ("Please stop sending me messages", "STOP", "en"),
        ("wrong number, stop", "STOP", "en"),
        ("remove me from your list", "REMOVE ME FROM YOUR LIST", "en"),
        ("take me off this list", "TAKE ME OFF YOUR LIST", "en"),
        ("don't text me", "DO NOT TEXT ME", "en"),
        ("do not text me anymore", "DO NOT TEXT ME", "en"),
        ("no more texts", "NO MORE TEXTS", "en"),
        ("leave me alone", "LEAVE ME ALONE", "en"),
        ("yes I want to stop", "STOP", "en"),
        ("BAJA", "BAJA", "es"),
        ("alto", "ALTO", "es"),
        ("Parar", "PARAR", "es"),
        ("CANCELAR", "CANCELAR", "es"),
        ("no más mensajes", "NO MAS MENSAJES", "es"),
        ("No mas mensajes", "NO MAS MENSAJES", "es"),
        ("Baja por favor", "BAJA", "es"),
        ("STOP por favor", "STOP", "es"),
    ],
)
def test_revocation_in_a_sentence_or_in_spanish_opts_out_naming_what_matched(message, word, language):
    found, keyword = outcome(message)
    assert (found, keyword.word, keyword.language) == ("opt_out", word, language)


@pytest.mark.parametrize(
    "message",
    [
        "I can stop by at 5",
        "is there a bus stop near you?",
        "can I cancel my order 1042?",
        "the end of the month works",
        "don't stop the delivery",
        "I quit my job so I need to reschedule",
    ],
)
def test_keyword_in_its_ordinary_sense_is_no_opt_out(message):
    assert classify(message) is None


@pytest.mark.parametrize(
    "message",
    [
        "I want to stop getting these but first tell me my balance",
        "can you stop sending so many?",
        "Why do you keep texting me? I told you to stop weeks ago and I'm still getting these every single day",
        "stpo",
        "stopp",
    ],
)
def test_anything_in_between_is_a_possible_opt_out(message):
    assert outcome(message)[0] == "possible"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("START texting me", "none"),
        ("yes I want to stop", "opt_out"),
        ("STOP START", "possible"),
        ("oops stop", "possible"),
    ],
)
def test_opt_in_needs_the_word_alone_and_never_beats_a_revocation(message, expected):
    assert outcome(message)[0] == expected


@pytest.mark.parametrize("message", ["help me please", "info on the sale?"])
def test_help_needs_the_word_alone(message):
    assert classify(message) is None


def test_single_keywords_keep_their_word_and_kind():
    assert [(k.kind, k.word) for k in map(classify, ["Opt-Out", "START", "help"])] == [
        (KeywordKind.OPT_OUT, "OPT-OUT"),
        (KeywordKind.OPT_IN, "START"),
        (KeywordKind.HELP, "HELP"),
    ]


def test_campaign_is_asked_only_when_the_text_revokes_nothing():
    asked = []

    def campaign_of(word):
        asked.append(word)
        return "cmp_1"

    assert outcome("Please stop texting me", campaign_of)[0] == "opt_out"
    assert outcome("can you stop sending so many?", campaign_of)[0] == "possible"
    assert asked == []
    found, keyword = outcome("Spring", campaign_of)
    assert (found, keyword.campaign_id, asked) == ("opt_in", "cmp_1", ["SPRING"])


def test_a_campaign_keyword_spelt_like_a_near_miss_of_stop_is_the_campaign():
    assert outcome("stpo", {"STPO": "cmp_1"}.get)[1].campaign_id == "cmp_1"
    assert outcome("stpo", {}.get)[0] == "possible"


@pytest.mark.parametrize("word", ["BAJA", "alto", "Parar", "cancelar"])
def test_spanish_opt_out_words_are_reserved_from_campaigns(word):
    assert {"BAJA", "ALTO", "PARAR", "CANCELAR"} <= OPT_OUT_WORDS <= campaigns.RESERVED_WORDS
    with pytest.raises(ValidationFailed, match="reserved"):
        campaigns.normalize_keywords([word])


def test_long_and_repetitive_messages_are_read_without_backtracking_blowups():
    assert outcome("stop " * 800)[0] == "opt_out"
    assert outcome("please " * 800 + "x")[0] == "none"
    assert outcome("don't " * 1000 + "stop")[0] == "none"
    assert outcome("remove " + "the " * 1000 + "item")[0] == "none"
