"""Revocation of consent in a sentence: the rules as data, and the one matcher that reads them.

Since 11 April 2025 the TCPA rule lets a person revoke consent by any
reasonable means, and stop, quit, end, revoke, opt out, cancel or unsubscribe
in a reply are a revocation per se. A carrier keyword list only sees a
message that is nothing but the word, so "Stop texting me" or "remove me from
your list" went unheard. The rules below hear them, and keep apart the
ordinary uses of the same words ("I can stop by at 5") that must not cost a
customer their messages. What is neither clearly one nor the other is left to
a person to confirm.

Everything is matched on one line of upper-case, accent-free tokens, so each
rule is written once for every spelling of case, punctuation and emoji. The
sets and patterns are data: a new phrase is a line here, not new code.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import accumulate

CARRIER_OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT-OUT", "OPT OUT", "REMOVE"}
    | {"ARRET", "TD"}
)
SPANISH_OPT_OUT_WORDS = frozenset({"BAJA", "ALTO", "PARAR", "CANCELAR"})
"""Like the carrier words, each opts out on its own, so no campaign may take one as its keyword."""

# Words that revoke wherever they stand, unless a rule of ordinary use claims them. TD is left out: inside a
# sentence it is a bank far more often than a French "stop".
REVOCATION_WORDS = {
    **dict.fromkeys(["STOP", "STOPALL", "UNSUBSCRIBE", "UNSUB", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"], "en"),
    **dict.fromkeys(["REMOVE", "ARRET"], "en"),
    **dict.fromkeys([*SPANISH_OPT_OUT_WORDS, "DESUSCRIBIR", "DESUSCRIBIRME", "DESUSCRIBIRSE"], "es"),
}


def _words(text: str) -> frozenset[str]:
    """A word list written as prose, so the lists below read as lists and not as rows of quotes."""
    return frozenset(text.split())


# Courtesy, filler and emphasis: a revocation word with nothing else around it but these is a clear opt-out.
# A word in both lists says nothing of the language.
ENGLISH_FILLER = _words(
    "PLEASE PLS PLZ KINDLY ME MY IT THIS THAT THESE THOSE THEM THE ALL ANY AND OR OF NOW RIGHT IMMEDIATELY ASAP "
    "TODAY ALREADY JUST AGAIN ANYMORE FOREVER SERIOUSLY REALLY THANKS THANK YOU U THX TY THANKYOU OK OKAY K YES "
    "YEAH YEP YUP NO NOPE NAH HI HELLO HEY SIR MAAM MAN DUDE GUYS OMG GOD DAMN FFS WTF HELL FUCK FUCKING FREAKING "
    "TEXTING TEXTS TEXT TXT TXTS TXTING MESSAGING MESSAGES MESSAGE MSG MSGS SMS SENDING CONTACTING CALLING "
    "BOTHERING SPAMMING HARASSING GETTING RECEIVING I ID WANT WANNA TO WOULD LIKE NEED CAN COULD WILL FROM YOUR "
    "UR LIST NUMBER PHONE CELL CONSENT IM DONE WITH ENOUGH SEND CONTACT CALL SAID"
)
SPANISH_FILLER = _words(
    "POR FAVOR PORFA PORFAVOR GRACIAS YA SI NO ME MI DE DAR DARME DAME DENME QUIERO QUISIERA DESEO LA EL LOS LAS "
    "ESTA ESTE ESTOS ESTAS LISTA NUMERO SUSCRIPCION SUBSCRIPCION MENSAJES MENSAJE TEXTOS AHORA TODO TODOS HOLA "
    "OK"
)
FILLER_PHRASES = (
    "THANK YOU",
    "AT ONCE",
    "RIGHT (?:NOW|AWAY)",
    "WHO IS THIS",
    "SENT FROM MY (?:IPHONE|IPAD|ANDROID|PHONE|MOBILE|SAMSUNG(?: GALAXY)?(?: SMARTPHONE)?|GALAXY)",
    "(?:I WILL |ILL |IM GOING TO |IM GONNA |I AM GOING TO )?(?:REPORT|BLOCK)(?:ING)?"
    " (?:YOU|U|THIS|(?:THIS|YOUR) NUMBER)",
)

_ME = r"(?:ME|US|MY (?:PHONE |CELL )?NUMBER|THIS (?:PHONE )?NUMBER|MY INFO)"
_TEXTS = r"(?:TEXTS?|TXTS?|TEXT MESSAGES?|MESSAGES?|MSGS?|SMS|MARKETING|PROMOS?|PROMOTIONS?|ADS|OFFERS|SPAM)"
_LIST = (
    r"(?:(?:YOUR|THIS|THE|THAT|UR|ALL|ANY|THESE) )?(?:(?:MAILING|TEXT|TEXTING|SMS|CONTACT|CALL|CALLING|MESSAGING"
    rf"|MARKETING|SUBSCRIPTION|DISTRIBUTION|SPAM) )?(?:LISTS?|{_TEXTS}|DATABASE|SYSTEM|CONTACTS)"
)
_NOT = r"(?:DONT|DO NOT|NO LONGER)"
_ES_TEXTS = r"(?:MENSAJES|MENSAJITOS|TEXTOS|SMS|PROMOCIONES)"

# Phrases that are a revocation without a keyword: (label, pattern, language). The label is what history records.
OPT_OUT_PHRASES = (
    ("REMOVE ME FROM YOUR LIST", rf"REMOVE {_ME} FROM {_LIST}", "en"),
    ("TAKE ME OFF YOUR LIST", rf"TAKE {_ME} OFF(?: OF)?(?: {_LIST})?", "en"),
    ("DO NOT CONTACT LIST", rf"(?:PUT|ADD) {_ME} (?:ON|TO) (?:YOUR |THE |UR )?DO NOT (?:CALL|TEXT|CONTACT) LIST", "en"),
    (
        "DO NOT TEXT ME",
        r"(?:DONT|DO NOT|NEVER)(?: EVER)? (?:(?:CALL|EMAIL) (?:OR|AND) )?(?:TEXT|TXT|MESSAGE|MSG|SMS|CONTACT|SPAM"
        rf"|BOTHER|HARASS)(?: (?:OR|AND) (?:CALL|EMAIL))? {_ME}",
        "en",
    ),
    ("NO MORE TEXTS", rf"NO MORE {_TEXTS}", "en"),
    (
        "DO NOT WANT THESE TEXTS",
        rf"{_NOT} (?:WANT|WISH|NEED|LIKE)(?: TO (?:RECEIVE|GET|SEE))?(?: ANY)?(?: MORE)?(?: OF)?"
        rf"(?: (?:THESE|THIS|THOSE|YOUR|THE|UR))? {_TEXTS}",
        "en",
    ),
    ("DO NOT WANT TO BE CONTACTED", rf"{_NOT} (?:WANT|WISH) TO BE (?:CONTACTED|TEXTED|MESSAGED|ON {_LIST})", "en"),
    ("LEAVE ME ALONE", r"LEAVE (?:ME|US) ALONE", "en"),
    ("DELETE MY NUMBER", r"(?:LOSE|DELETE|ERASE|FORGET) (?:MY|THIS) (?:PHONE |CELL )?(?:NUMBER|CONTACT|INFO)", "en"),
    ("OPT OUT", r"OPT (?:ME |MY NUMBER |US )?OUT", "en"),
    ("NO MAS MENSAJES", rf"NO (?:QUIERO |DESEO )?(?:RECIBIR )?MAS {_ES_TEXTS}", "es"),
    (
        "NO ME MANDEN MENSAJES",
        rf"(?:YA )?NO (?:ME (?:MANDEN|ENVIEN|ESCRIBAN|MANDES|ENVIES|ESCRIBAS|CONTACTEN)(?: MAS)?(?: {_ES_TEXTS})?"
        rf"|(?:MANDEN|ENVIEN)(?: MAS)? {_ES_TEXTS})",
        "es",
    ),
    ("NO QUIERO MENSAJES", rf"(?:YA )?NO QUIERO (?:RECIBIR )?(?:MAS )?(?:SUS |ESTOS |LOS )?{_ES_TEXTS}", "es"),
    (
        "DEJEN DE MANDAR MENSAJES",
        r"(?:DEJEN|DEJA|DEJE|PAREN) DE (?:MANDAR|ENVIAR|ESCRIBIR|MOLESTAR)(?:ME)?"
        rf"(?: (?:MAS )?{_ES_TEXTS})?",
        "es",
    ),
    (
        "SAQUENME DE LA LISTA",
        r"(?:SAQUENME|SACAME|SAQUEME|BORRENME|BORRAME|ELIMINENME|QUITENME|QUITAME) DE (?:LA|SU|TU|ESTA) LISTA"
        r"|(?:BORREN|BORRA|ELIMINEN|ELIMINA|QUITEN) MI NUMERO",
        "es",
    ),
)

# Signs of a wish to stop that are too weak alone: a person confirms. Next to a revocation they only reinforce it.
POSSIBLE_PHRASES = (
    ("WRONG NUMBER", r"WRONG (?:NUMBER|NUM|PERSON)", "en"),
    ("NOT INTERESTED", r"(?:IM |I AM )?NOT INTERESTED", "en"),
    ("SPAM", r"(?:THIS IS )?SPAM", "en"),
    (
        "NEVER SIGNED UP",
        r"(?:I )?(?:NEVER|DIDNT|DID NOT) SIGN(?:ED)? UP(?: FOR (?:THIS|THESE|THAT|IT|ANYTHING))?",
        "en",
    ),
    ("HOW DID YOU GET MY NUMBER", r"HOW DID (?:YOU|U|YALL) GET (?:MY|THIS) NUMBER", "en"),
    ("UNSUBSCRIBED", r"UNSUBSCRIBED|UNSUBSCRIBING|OPTED OUT|OPTING OUT", "en"),
    ("NUMERO EQUIVOCADO", r"NUMERO EQUIVOCADO", "es"),
    ("NO ME INTERESA", r"NO ME INTERESA", "es"),
)

_KEYWORD = r"(?:STOP|CANCEL|END|QUIT|UNSUBSCRIBE|REMOVE|REVOKE|OPT OUT)"
_DET = r"(?:(?:MY|THE|OUR|THIS|THAT|AN|A|ONE|HIS|HER|TODAYS|TOMORROWS|NEXT|ALL|EXTRA|ANY|MIS|MI|LA|EL|UNA|UN|SU) )*"
# The revocation words in their ordinary sense: a match claims the words, which then revoke nothing.
ORDINARY_USES = (
    rf"(?:DONT|DO NOT|DOESNT|DOES NOT|DIDNT|DID NOT|NO NEED TO)(?: (?:WANT|NEED|MEAN|HAVE|TRY|PLAN) TO)? {_KEYWORD}",
    r"STOP (?:BY|IN|OVER|OFF)|STOP AT (?!ONCE\b)\w+",
    r"(?:BUS|TRAIN|TRUCK|LAST|NEXT|FIRST|SECOND|PIT|ONE|REST|TRAFFIC|COMPLETE|QUICK|SHORT|NON) STOP",
    r"STOP (?:SIGNS?|LIGHTS?|WATCH|LOSS|GAP|MOTION|NUMBER \d+)",
    r"(?:THE|A|THAT|YOUR|OUR) STOP (?:ON|AT|IN|NEAR|BY|FOR|IS|WAS|FROM)|(?:WHAT|WHICH|WHERE|MY) STOP",
    rf"STOP {_DET}(?:DELIVERY|DELIVERIES|PAYMENTS?|CHECK|SHIPMENT|ORDER|AUTOPAY|TRANSFER|CHARGES?|SERVICE|WORK"
    r"|CONSTRUCTION|NOISE|LEAK|BLEEDING|MAIL|NEWSPAPER|WATER)",
    r"(?:CANT|CAN NOT|CANNOT|COULDNT) STOP (?:LAUGHING|THINKING|CRYING|EATING|SMILING|WATCHING|LISTENING)",
    rf"CANCEL {_DET}(?:\w+ )?(?:ORDERS?|APPOINTMENTS?|APPT|APT|RESERVATIONS?|BOOKINGS?|DELIVER(?:Y|IES)|PAYMENTS?"
    r"|TRANSFERS?|CARDS?|FLIGHTS?|TRIPS?|RIDES?|MEETINGS?|PICKUPS?|SESSIONS?|CLASS(?:ES)?|VISITS?|TABLE|SHIPMENTS?"
    r"|REQUESTS?|CHECKS?|ACCOUNTS?|PLANS?|PURCHASES?|TRANSACTIONS?|AUTOPAY|CALLS?|LESSONS?|CONSULTATIONS?|TOURS?"
    r"|INSPECTIONS?|ROOMS?|STAYS?|EVENTS?|TICKETS?|RENEWALS?|MEMBERSHIPS?|POLIC(?:Y|IES)|SHIFTS?|SERVICES?|CLEANING"
    r"|\d\w*|TODAY|TOMORROW|TONIGHT|(?:MON|TUES|WEDNES|THURS|FRI|SATUR|SUN)DAY|MORNING|AFTERNOON|EVENING)",
    r"(?:THE|AN|AT|BY|TIL|TILL|UNTIL|WEEK|MONTH|YEAR|DEAD|BACK|FRONT|HIGH|LOW|OTHER|MY|YOUR|UR|OUR|ITS|EITHER"
    r"|TAIL|WEST|EAST|NORTH|SOUTH) END",
    r"END (?:OF|UP|UPS|DATE|TIME|USER|TABLE|RESULT|GAME|POINT|CAP|ZONE)",
    r"QUIT (?:(?:MY|HIS|HER|THEIR|OUR|THE) )?(?:JOBS?|WORK|SMOKING|DRINKING|VAPING|SCHOOL|GYM|TEAM|COMPANY|POSITION)",
    r"(?:HE|SHE|THEY|WE|HAS|HAVE|HAD|APP|PHONE|CAR|ENGINE|SCREEN|MY \w+|YOUR \w+|THE \w+) QUIT",
    rf"REMOVE {_DET}(?:ITEMS?|CHARGES?|FEES?|CARDS?|PRODUCTS?|TOPPINGS?|CHEESE|ONIONS?|PICKLES|TIPS?|DISCOUNTS?"
    r"|COUPONS?|ADD ONS?|LINES?|DEVICES?|HOLDS?|PAYMENTS?|ADDRESS(?:ES)?|VEHICLES?|DRIVERS?|STAINS?|TREES?|STUMPS?)",
    r"REMOVE (?!ME\b|MY NUMBER\b|US\b|THIS NUMBER\b)(?:\w+ ){1,3}FROM (?:MY|THE|OUR) (?:ORDER|CART|BILL|ACCOUNT"
    r"|INVOICE|BASKET|RESERVATION|BOOKING)",
    r"REVOKE (?:(?:HIS|HER|THEIR|THE|MY) )?(?:ACCESS|PERMISSIONS?|KEYS?|CARDS?|BADGES?|LICENSE)",
    r"BAJA CALIFORNIA|(?:MUY|MAS|TAN|ES|ESTA|PRESION|TEMPERATURA|SENAL|BATERIA|TEMPORADA) (?:ALTO|BAJA)",
    r"(?:ALTO|BAJA) (?:PRECIO|VOLTAJE|RIESGO|CALIDAD|NIVEL|CALORIAS|TEMPORADA)|(?:EN|LO) ALTO",
    r"SIN PARAR|PARAR EN|NO (?:QUIERO|VOY A) (?:PARAR|CANCELAR|DARME DE BAJA)",
    rf"CANCELAR {_DET}(?:\w+ )?(?:CITAS?|ORDEN|PEDIDO|RESERVA|RESERVACION|COMPRA|PAGO|CUENTA|SERVICIO|VUELO|TARJETA"
    r"|VISITA)",
)

# Near misses of these words (edit distance at most the number) are asked about, never acted on.
MISSPELLABLE = {"STOP": 1, "UNSUBSCRIBE": 2, "CANCEL": 1, "REVOKE": 1}
NOT_MISSPELT = frozenset(
    {"STEP", "SHOP", "SLOP", "STOW", "TOP", "SOP", "STOPS", "ATOP", "CANCER", "SUBSCRIBE", "SUBSCRIBED", "REVOKED"}
)
STOP_SIGN = "\U0001f6d1"


@dataclass(frozen=True)
class Revocation:
    certain: bool
    """False: the message may revoke consent, and a person should confirm before anyone acts on it."""
    label: str
    language: str = "en"
    misspelt: bool = False
    """A near miss of a keyword only: a campaign keyword spelt that way should win over it."""


@dataclass(frozen=True)
class _Role:
    kind: str
    label: str = ""
    language: str = ""
    first: bool = False


_ORDINARY, _REVOKE, _HINT, _FILLER = "ordinary", "revoke", "hint", "filler"


class _Rules:
    """One alternation per rule list, so a message is scanned once per list, not once per rule."""

    def __init__(self, rules: tuple[tuple[str, str, str], ...]) -> None:
        self.labels = {f"r{n}": (label, language) for n, (label, _, language) in enumerate(rules)}
        alternatives = "|".join(f"(?P<r{n}>{pattern})" for n, (_, pattern, _) in enumerate(rules))
        self.pattern = re.compile(rf"\b(?:{alternatives})\b")


_ORDINARY_RULES = _Rules(tuple(("", pattern, "") for pattern in ORDINARY_USES))
_OPT_OUT_RULES = _Rules(OPT_OUT_PHRASES)
_POSSIBLE_RULES = _Rules(POSSIBLE_PHRASES)
_FILLER_RULES = _Rules(tuple(("", pattern, "") for pattern in FILLER_PHRASES))
_FILLER_LANGUAGE = {
    **dict.fromkeys(ENGLISH_FILLER, "en"),
    **dict.fromkeys(SPANISH_FILLER, "es"),
    **dict.fromkeys(ENGLISH_FILLER & SPANISH_FILLER, ""),
}
_KNOWN = (
    frozenset(REVOCATION_WORDS)
    | frozenset(_FILLER_LANGUAGE)
    | {
        word
        for rules in (OPT_OUT_PHRASES, POSSIBLE_PHRASES)
        for _, pattern, _ in rules
        for word in re.findall("[A-Z]+", pattern)
    }
)
"""Every word a rule spells, so a held-down letter is read back to the word a rule knows."""

# Where the sender's own words end: a quoted reply's header, or the "-- " that opens a signature.
_QUOTE_HEADER = re.compile(r"^\s*(?:On .{1,200} wrote:?|--)\s*$", re.IGNORECASE)
_SIGNATURE = re.compile(
    r"^\s*(?:sent (?:from|via) .{0,40}|enviado desde .{0,40}|get outlook for .{0,20}|[-~\u2013\u2014]+\s*\S.{0,40})$",
    re.IGNORECASE,
)
_APOSTROPHES = re.compile("['\u2018\u2019`\u00b4]")
_NOT_WORD = re.compile(r"[^A-Z0-9]+")
_LETTER_RUN = re.compile(r"([A-Z])\1{2,}")


def fold(text: str) -> str:
    """Upper case without accents, so "Arrêt" and "ARRET", "más" and "MAS" are one word to every rule."""
    text = text or ""
    if text.isascii():
        return text.upper()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).upper()


def _own_lines(body: str) -> str:
    """The lines the sender wrote: no quoted reply, and no signature lines after the message."""
    lines = []
    for line in body.splitlines():
        if _QUOTE_HEADER.match(line):
            break
        if not line.lstrip().startswith(">"):
            lines.append(line)
    while len(lines) > 1 and (not lines[-1].strip() or _SIGNATURE.match(lines[-1])):
        lines.pop()
    return "\n".join(lines)


def _unstretched(token: str) -> str:
    """A letter held down is emphasis ("STOOOOP" is STOP, "OFFFF" is OFF); a doubled one may be a typo."""
    if not _LETTER_RUN.search(token):
        return token
    doubled = _LETTER_RUN.sub(r"\1\1", token)
    single = _LETTER_RUN.sub(r"\1", token)
    return doubled if doubled in _KNOWN else single


def _tokens(body: str) -> list[str]:
    words = _NOT_WORD.split(_APOSTROPHES.sub("", fold(_own_lines(body))))
    tokens: list[str] = []
    letters: list[str] = []
    for word in [_unstretched(w) for w in words if w] + [""]:
        if len(word) == 1 and word.isalpha():
            letters.append(word)
            continue
        # "S.T.O.P" spells a word; two letters are more likely "u k" than a word.
        tokens.extend(["".join(letters)] if len(letters) > 2 else letters)
        letters = []
        if word:
            tokens.append(word)
    return tokens


def _mark(text: str, starts: list[int], roles: list[_Role | None], rules: _Rules, kind: str) -> None:
    """Give each match's tokens `kind`, unless an earlier list already claimed one of them."""
    for found in rules.pattern.finditer(text):
        first, end = bisect_right(starts, found.start()) - 1, bisect_left(starts, found.end())
        if any(roles[i] is not None for i in range(first, end)):
            continue
        label, language = rules.labels[found.lastgroup or ""]
        for i in range(first, end):
            roles[i] = _Role(kind, label, language, first=i == first)


def _distance(a: str, b: str, limit: int) -> int:
    """Edit distance with adjacent swaps ("STPO"), given up once it is past `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before, row = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + (ca != cb))
            if before is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, before[j - 2] + 1)
            current.append(cost)
        before, row = row, current
    return row[-1]


def _misspelt(token: str) -> bool:
    if token in NOT_MISSPELT:
        return False
    return any(_distance(token, word, limit) <= limit for word, limit in MISSPELLABLE.items())


def match(body: str) -> Revocation | None:
    """Whether `body` revokes consent: certainly, possibly, or (None) not at all."""
    tokens = _tokens(body)
    text = " ".join(tokens)
    starts = list(accumulate((len(t) + 1 for t in tokens[:-1]), initial=0)) if tokens else []
    roles: list[_Role | None] = [None] * len(tokens)
    _mark(text, starts, roles, _ORDINARY_RULES, _ORDINARY)
    _mark(text, starts, roles, _OPT_OUT_RULES, _REVOKE)
    _mark(text, starts, roles, _POSSIBLE_RULES, _HINT)
    _mark(text, starts, roles, _FILLER_RULES, _FILLER)
    for i, token in enumerate(tokens):
        if roles[i] is None and token in REVOCATION_WORDS:
            roles[i] = _Role(_REVOKE, token, REVOCATION_WORDS[token], first=True)
        elif roles[i] is None and token in _FILLER_LANGUAGE:
            roles[i] = _Role(_FILLER, language=_FILLER_LANGUAGE[token])
    revoked = [r for r in roles if r is not None and r.kind == _REVOKE and r.first]
    if revoked:
        certain = all(r is not None and r.kind != _ORDINARY for r in roles)
        filler = {r.language for r in roles if r is not None and r.kind == _FILLER}
        spanish = any(r.language == "es" for r in revoked) or ("es" in filler and "en" not in filler)
        return Revocation(certain, revoked[0].label, "es" if spanish else "en")
    hints = [r for r in roles if r is not None and r.kind == _HINT and r.first]
    if hints:
        return Revocation(False, hints[0].label, hints[0].language)
    unclaimed = [tokens[i] for i, role in enumerate(roles) if role is None]
    ordinary = any(r is not None and r.kind == _ORDINARY for r in roles)
    if len(unclaimed) == 1 and not ordinary and _misspelt(unclaimed[0]):
        return Revocation(False, unclaimed[0], misspelt=True)
    if STOP_SIGN in body and not unclaimed:
        return Revocation(False, "STOP SIGN EMOJI")
    return None
