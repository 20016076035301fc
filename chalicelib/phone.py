"""Phone number normalization: every number we store or compare is E.164.

Carriers, CSV files and people write the same number many ways
("15125550134", "(512) 555-0134", "+1 512 555 0134"); storing the E.164 form
is what makes a number a usable key. Only text made of a number's characters is
read as one, because `phonenumbers` finds a number inside any text: "order 4
4791 1123 456" would be a UK mobile, and the "1.51255513E+10" a spreadsheet
shows for a number column still has enough digits to be someone's number.
Either would text a stranger.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

_NOT_DIGITS = re.compile(r"\D")
_PUNCTUATION = " +()./-"
_PLAIN = re.compile(rf"[{re.escape(_PUNCTUATION)}]*[0-9][0-9{re.escape(_PUNCTUATION)}]*")
"""ASCII digits and punctuation: how nearly every number is written, so one match settles most of an import's rows."""
_SCIENTIFIC = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]*)?[eE][+-]?[0-9]+")
_EXTENSION = re.compile(r" *(?:;ext=|(?:ext|extension)[.:]?|x|#) *[0-9]{1,7}$", re.IGNORECASE)
"""Left out of the number rather than refused: a text cannot reach an extension, and the line is still the contact's."""
_TEL = "tel:"
_FULL_WIDTH = ("\uff01", "\uff5e")
_FULL_WIDTH_OFFSET = 0xFEE0
SPREADSHEET_NUMBER = (
    "the spreadsheet turned this column into numbers and dropped digits (scientific notation): "
    "format the column as text and enter the numbers again"
)
LETTERS = "letters mixed with digits: not a phone number"


class InvalidPhoneNumber(ValueError):
    """The text is not a valid phone number; `reason` is fit to show a user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalize(raw: str, region: str = "US") -> str:
    """Return the E.164 form of `raw`, read in `region` when it has no country code.

    Digits of any script, spaces, dashes, `+ ( ) . /`, a `tel:` prefix and an
    extension are a number's text; anything else is refused with the reason.
    A number not valid in `region` is tried once more as an international
    number without its "+", because exports and URL paths often drop the plus
    ("447911123456"): safe only because words never get this far.
    """
    text = (raw or "").strip()
    if not _PLAIN.fullmatch(text):
        text = _number_text(text)
    parsed = _parse(text, region)
    if parsed is None and not text.startswith("+"):
        parsed = _parse("+" + _NOT_DIGITS.sub("", text), region)
    if parsed is None:
        raise InvalidPhoneNumber(f"not a valid phone number for region {region}")
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


def _number_text(text: str) -> str:
    """A number written in other characters made plain, or refused saying what the text is, for the admin to fix."""
    if not text:
        raise InvalidPhoneNumber("missing number")
    text = _ascii(text).strip()
    if _SCIENTIFIC.fullmatch(text):
        raise InvalidPhoneNumber(SPREADSHEET_NUMBER)
    if text[: len(_TEL)].casefold() == _TEL:
        text = text[len(_TEL) :].lstrip()
    extension = _EXTENSION.search(text)
    if extension:
        text = text[: extension.start()]
    if _PLAIN.fullmatch(text):
        return text
    if not any(char.isdecimal() for char in text):
        raise InvalidPhoneNumber("not a phone number")
    if any(char.isalpha() for char in text):
        raise InvalidPhoneNumber(LETTERS)
    stray = next(char for char in text if not char.isdecimal() and char not in _PUNCTUATION)
    raise InvalidPhoneNumber(f"{stray!r} cannot be in a phone number")


def _ascii(text: str) -> str:
    """Text as typed on other keyboards, in the characters `_PLAIN` knows.

    Digits of any script become ASCII digits, full-width forms their ASCII
    twins, any space a space and any dash "-"; invisible formatting (the
    direction marks right-to-left text wraps numbers in, zero-width spaces)
    is dropped.
    """
    chars = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Nd":
            chars.append(str(unicodedata.decimal(char)))
        elif _FULL_WIDTH[0] <= char <= _FULL_WIDTH[1]:
            chars.append(chr(ord(char) - _FULL_WIDTH_OFFSET))
        elif char.isspace():
            chars.append(" ")
        elif category == "Pd":
            chars.append("-")
        elif category != "Cf":
            chars.append(char)
    return "".join(chars)


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        parsed = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    return parsed if phonenumbers.is_valid_number(parsed) else None


def search_prefixes(query: str, region: str = "US") -> list[str]:
    """E.164 prefixes a partial number typed in any common format may stand for.

    "(512) 555" and "512555" mean "+1512555" in the US; "1512" may be a country
    code plus digits ("+1512") or national digits ("+11512"): both are searched.
    """
    digits = _NOT_DIGITS.sub("", query)
    if not digits:
        return []
    if query.strip().startswith("+"):
        return ["+" + digits]
    country_code = str(phonenumbers.country_code_for_region(region))
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    national = digits
    trunk = metadata.national_prefix if metadata else None
    if trunk and national.startswith(trunk):
        national = national[len(trunk) :]
    prefixes = ["+" + country_code + national]
    if digits.startswith(country_code):
        prefixes.append("+" + digits)
    return sorted(set(prefixes))


def mask(number: str) -> str:
    """A number safe for logs: country code and last two digits only."""
    if len(number) <= 5:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 5) + number[-2:]
