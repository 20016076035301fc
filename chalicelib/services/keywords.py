"""Which inbound texts are keywords, by the union of FCC, CTIA, AWS and Twilio lists.

Only a message that is nothing but the keyword counts ("Stop." does, "please
stop texting me" does not): carriers and the CTIA handbook treat single-word
messages as commands, and anything longer is a conversation for an agent.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT-OUT", "OPT OUT", "REMOVE"}
    | {"ARRET", "TD"}
)
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


def normalize(body: str) -> str:
    """Upper-case, punctuation and accents of no account, inner spaces folded ("Arrêt!" -> "ARRET")."""
    decomposed = unicodedata.normalize("NFKD", body or "")
    text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    text = _PUNCTUATION.sub("", text).strip().upper()
    return _SPACES.sub(" ", text).strip("-").strip()


def classify(body: str, campaign_of: Callable[[str], str | None] | None = None) -> Keyword | None:
    """The keyword `body` is, if it is one; `campaign_of` gives the campaign a word is the keyword of.

    It is asked last, and only about a text that is no reserved word, so the
    lookup it may cost is spent on candidates only.
    """
    word = normalize(body)
    if word in OPT_OUT_WORDS:
        return Keyword(KeywordKind.OPT_OUT, word)
    if word in OPT_IN_WORDS:
        return Keyword(KeywordKind.OPT_IN, word)
    if word in HELP_WORDS:
        return Keyword(KeywordKind.HELP, word)
    campaign_id = campaign_of(word) if campaign_of is not None and word else None
    if campaign_id is not None:
        return Keyword(KeywordKind.OPT_IN, word, campaign_id)
    return None
