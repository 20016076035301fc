"""Phone number normalization: every number we store or compare is E.164.

Carriers, CSV files and people write the same number many ways
("15125550134", "(512) 555-0134", "+1 512 555 0134"); storing the E.164 form
is what makes a number a usable key.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

_DIGITS = re.compile(r"\d")
_NOT_DIGITS = re.compile(r"\D")


class InvalidPhoneNumber(ValueError):
    """The text is not a valid phone number; `reason` is fit to show a user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalize(raw: str, region: str = "US") -> str:
    """Return the E.164 form of `raw`, read in `region` when it has no country code.

    A bare digit string that is not valid in `region` is tried once more as an
    international number without its "+", because exports and URL paths often
    drop the plus ("447911123456").
    """
    text = (raw or "").strip()
    if not _DIGITS.search(text):
        raise InvalidPhoneNumber("missing number" if not text else "not a phone number")
    parsed = _parse(text, region)
    if parsed is None and not text.startswith("+"):
        parsed = _parse("+" + _NOT_DIGITS.sub("", text), region)
    if parsed is None:
        raise InvalidPhoneNumber(f"not a valid phone number for region {region}")
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


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
