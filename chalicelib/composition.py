"""Message composition: the text we will send and what it costs in SMS segments.

Carriers bill and deliver SMS by segment, not by message, and the segment size
depends on the encoding the whole message needs: one character outside the
GSM-7 alphabet (an emoji, a curly quote, "ł") turns every character into
UTF-16 and cuts the segment from 160 to 70. Agents see the count while they
type and the sender sees the same numbers at send time, so both use the one
calculation here. Pure functions: no AWS, no clock.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import emoji

from chalicelib.errors import ValidationFailed

# 3GPP TS 23.038 section 6.2.1, "GSM 7 bit Default Alphabet", in table order
# (0x00-0x7F) without 0x1B, which is the escape to the extension table, not a
# character. Greek capitals are the Greek letters (U+0394 ...), as in
# Unicode's GSM0338 mapping.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# 3GPP TS 23.038 section 6.2.1.1, the default extension table: each is sent
# as ESC + code, two septets.
GSM7_EXTENSION = "\f^{}\\[~]|€"

GSM7_SINGLE = 160
GSM7_MULTIPART = 153  # the user data header of a concatenated SMS takes 7 septets
UCS2_SINGLE = 70
UCS2_MULTIPART = 67  # the same 6-byte header, in 16-bit units
MAX_CHARACTERS = 1600

_GSM7 = frozenset(GSM7_BASIC + GSM7_EXTENSION)
_GSM7_DOUBLE = frozenset(GSM7_EXTENSION)

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True)
class Composition:
    """The final text and its cost.

    `units` are what segments are made of: septets for GSM-7 (an extension
    character is two), UTF-16 code units for UCS-2 (a character outside the
    Basic Multilingual Plane, such as most emoji, is two). Emoji built from
    several code points count every one of them: a flag is two regional
    indicators (4 units), a ZWJ family such as 👨‍👩‍👧 is three people and two
    joiners (8 units). That is what the handset sends, whatever it draws.
    `characters` is `len(text)` (code points), the measure of the 1,600 limit.
    """

    text: str
    encoding: Encoding
    characters: int
    units: int
    segments: int
    remaining: int  # units that still fit in the last segment before another one starts

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def compose(body: str, appended_message: str | None = None, *, allow_empty: bool = False) -> Composition:
    """The text to send for what an agent typed, refused when it cannot be sent.

    `:shortcode:` emoji names are expanded in the body and the appended
    message alike (the manuals we replace let users type ":emoji:"). The
    business number's appended message goes on its own line after the body,
    unless the body already ends with it (an agent who pasted it, or a resend
    of a composed text): it must reach the handset once. Whitespace around the
    body is dropped because it costs units and nobody sees it.

    An empty body is refused unless media goes with it (`allow_empty`); then
    the appended message alone is the text. The final text, appended message
    and expanded emoji included, may have at most 1,600 characters counted as
    Python characters (code points), the cap Twilio-style senders put on one
    message.
    """
    text = _expand_shortcodes(body).strip()
    if not text and not allow_empty:
        raise ValidationFailed("message body is empty", field="body")
    appended = _expand_shortcodes(appended_message or "").strip()
    if appended and not text.endswith(appended):
        text = f"{text}\n{appended}" if text else appended
    if len(text) > MAX_CHARACTERS:
        raise ValidationFailed(
            f"message is {len(text):,} characters, appended message included; the limit is {MAX_CHARACTERS:,}",
            field="body",
        )
    return segment_info(text)


def _expand_shortcodes(text: str) -> str:
    """Replace `:name:` with its emoji; names the library does not know stay as typed.

    The "alias" language covers the Slack/GitHub names people type
    (:thumbsup:, :+1:, :smile:, :us:) and the Unicode CLDR names
    (:thumbs_up:) as well; plain "en" knows only the latter.
    """
    return emoji.emojize(text, language="alias")


def segment_info(text: str) -> Composition:
    """Encoding and segments of a text that is already final (as sent, unchanged).

    A text of one segment may use the whole 160 (or 70) units; a longer one is
    cut greedily into parts of 153 (or 67). A two-unit character (GSM-7
    escape sequence, UTF-16 surrogate pair) is never split between parts: a
    part that would end in its middle ends one unit early, as handsets and
    carriers do. An empty text is 0 segments with a full single segment
    remaining.
    """
    if all(char in _GSM7 for char in text):
        encoding: Encoding = "GSM-7"
        single, multipart = GSM7_SINGLE, GSM7_MULTIPART
        sizes = [2 if char in _GSM7_DOUBLE else 1 for char in text]
    else:
        encoding = "UCS-2"
        single, multipart = UCS2_SINGLE, UCS2_MULTIPART
        sizes = [2 if ord(char) > 0xFFFF else 1 for char in text]
    units = sum(sizes)
    if units <= single:
        segments, remaining = (1 if units else 0), single - units
    else:
        segments, used = 1, 0
        for size in sizes:
            if used + size > multipart:
                segments, used = segments + 1, 0
            used += size
        remaining = multipart - used
    return Composition(text, encoding, len(text), units, segments, remaining)
