"""Which inbound texts are keywords, by the union of FCC, CTIA, AWS and Twilio lists, and which revoke consent.

A message that is nothing but a keyword is a command, as carriers and the CTIA
handbook treat it ("Stop." opts out, "Start" opts back in). Since the TCPA
rule of April 2025 a revocation also counts in a sentence ("please stop
texting me"), so opt-outs are read further by `revocations`; opting in and
help stay single-word commands, since a START inside a sentence is no one
asking for messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from chalicelib.services import revocations
from chalicelib.services.revocations import CARRIER_OPT_OUT_WORDS, SPANISH_OPT_OUT_WORDS, fold

OPT_OUT_WORDS = CARRIER_OPT_OUT_WORDS | SPANISH_OPT_OUT_WORDS
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES", "OOPS"})
HELP_WORDS = frozenset({"HELP", "INFO"})

_PUNCTUATION = re.compile(r"[^\w\s-]", re.UNICODE)
_SPACES = re.compile(r"\s+")


class KeywordKind(Enum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    POSSIBLE_OPT_OUT = "possible_opt_out"
    """The message may revoke consent; a person should confirm before it is acted on."""


@dataclass(frozen=True)
class Keyword:
    kind: KeywordKind
    word: str
    campaign_id: str | None = None
    """Set when the word is a campaign's own opt-in keyword."""
    language: str = "en"
    """"es" for a revocation written in Spanish, so that its confirmation can be in Spanish too."""


def normalize(body: str) -> str:
    """Upper-case, punctuation and accents of no account, inner spaces folded ("Arrêt!" -> "ARRET")."""
    text = _PUNCTUATION.sub("", fold(body)).strip()
    return _SPACES.sub(" ", text).strip("-").strip()


def classify(body: str, campaign_of: Callable[[str], str | None] | None = None) -> Keyword | None:
    """The keyword `body` is, if it is one; `campaign_of` gives the campaign a word is the keyword of.

    A revocation is looked for before any campaign, so no keyword can stand
    in the way of an opt-out. `campaign_of` is asked last, and only about a
    text that is neither a reserved word nor a revocation, so the lookup it may
    cost is spent on candidates only; a near miss of STOP waits for it, since
    a campaign may own that spelling.
    """
    word = normalize(body)
    if word in OPT_OUT_WORDS:
        return Keyword(KeywordKind.OPT_OUT, word, language="es" if word in SPANISH_OPT_OUT_WORDS else "en")
    if word in OPT_IN_WORDS:
        return Keyword(KeywordKind.OPT_IN, word)
    if word in HELP_WORDS:
        return Keyword(KeywordKind.HELP, word)
    revocation = revocations.match(body)
    if revocation is not None and not revocation.misspelt:
        return _revoking(revocation)
    campaign_id = campaign_of(word) if campaign_of is not None and word else None
    if campaign_id is not None:
        return Keyword(KeywordKind.OPT_IN, word, campaign_id)
    return _revoking(revocation) if revocation is not None else None


def _revoking(revocation: revocations.Revocation) -> Keyword:
    kind = KeywordKind.OPT_OUT if revocation.certain else KeywordKind.POSSIBLE_OPT_OUT
    return Keyword(kind, revocation.label, language=revocation.language)
