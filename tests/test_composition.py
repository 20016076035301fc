import emoji
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.composition import GSM7_BASIC, GSM7_EXTENSION, MAX_CHARACTERS, compose, segment_info
from chalicelib.errors import ValidationFailed

NON_GSM = "ł"  # Polish; not in the GSM-7 default alphabet (unlike ñ, Ç, é)
GRIN = "😀"  # outside the BMP: a surrogate pair in UTF-16


def test_alphabet_tables_have_the_standard_sizes():
    assert len(set(GSM7_BASIC)) == len(GSM7_BASIC) == 127  # 128 codes less ESC
    assert len(GSM7_EXTENSION) == 10
    assert not set(GSM7_BASIC) & set(GSM7_EXTENSION)


@pytest.mark.parametrize(
    ("length", "segments", "remaining"),
    [(1, 1, 159), (160, 1, 0), (161, 2, 145), (306, 2, 0), (307, 3, 152)],
)
def test_gsm7_segments(length, segments, remaining):
    info = segment_info("a" * length)
    assert (info.encoding, info.units, info.segments, info.remaining) == ("GSM-7", length, segments, remaining)


def test_accented_letters_of_the_default_alphabet_stay_gsm7():
    assert segment_info("ñÇéÅΩ¿§@£\r\n").encoding == "GSM-7"


def test_extension_characters_count_two_septets():
    assert (segment_info("€" * 80).units, segment_info("€" * 80).segments) == (160, 1)
    info = segment_info("€" * 81)
    assert (info.units, info.segments, info.remaining) == (162, 2, 143)  # 76 + 5, the 77th moves on
    assert segment_info("^{}\\[~]|€\f").units == 20


def test_escape_sequence_is_never_split_between_segments():
    # 306 septets would fit 2 x 153, but the first part cannot end on the ESC of "€".
    info = segment_info("a" * 152 + "€" + "a" * 152)
    assert (info.units, info.segments, info.remaining) == (306, 3, 152)
    assert segment_info("a" * 152 + "€" + "a" * 151).segments == 2


@pytest.mark.parametrize(
    ("length", "segments", "remaining"),
    [(70, 1, 0), (71, 2, 63), (134, 2, 0), (135, 3, 66)],
)
def test_one_non_gsm_character_switches_to_ucs2(length, segments, remaining):
    info = segment_info(NON_GSM + "a" * (length - 1))
    assert (info.encoding, info.units, info.segments, info.remaining) == ("UCS-2", length, segments, remaining)


def test_emoji_outside_bmp_counts_two_units():
    assert segment_info(GRIN).units == 2
    info = segment_info(GRIN * 35)
    assert (info.characters, info.units, info.segments, info.remaining) == (35, 70, 1, 0)
    assert segment_info(GRIN * 36).segments == 2


def test_surrogate_pair_is_never_split_between_segments():
    info = segment_info("x" * 66 + GRIN + "x" * 66)
    assert (info.units, info.segments, info.remaining) == (134, 3, 66)
    assert segment_info("x" * 66 + GRIN + "x" * 65).segments == 2


def test_flags_and_zwj_sequences_count_every_code_unit():
    assert segment_info("🇺🇸").units == 4
    family = "👨\u200d👩\u200d👧"
    assert segment_info(family).units == 8
    assert segment_info(family).characters == 5


def test_shortcodes_expand_with_slack_and_github_aliases():
    assert compose(":thumbsup: :+1: :us:").text == "👍 👍 🇺🇸"
    assert compose(":smile:").text == emoji.emojize(":smile:", language="alias") == "😄"
    assert compose(":heart:").text == "❤️"


def test_unknown_shortcode_stays_as_typed():
    assert compose("see :notanemoji: ok").text == "see :notanemoji: ok"


def test_appended_message_goes_on_its_own_line_once():
    assert compose("Hi there ", "Reply STOP to opt out").text == "Hi there\nReply STOP to opt out"
    assert compose("Hi\nReply STOP to opt out", "Reply STOP to opt out").text == "Hi\nReply STOP to opt out"
    assert compose("Hi", "  ").text == "Hi"
    assert compose("Hi", ":wave: Acme").text == "Hi\n👋 Acme"


def test_empty_body_is_refused_unless_media_goes_with_it():
    with pytest.raises(ValidationFailed) as error:
        compose("  \n ")
    assert error.value.field == "body"
    media_only = compose("", allow_empty=True)
    assert (media_only.text, media_only.segments, media_only.remaining) == ("", 0, 160)
    assert compose(" ", "Acme", allow_empty=True).text == "Acme"


def test_limit_counts_characters_of_the_final_text():
    assert compose("a" * MAX_CHARACTERS).characters == 1600
    with pytest.raises(ValidationFailed) as error:
        compose("a" * 1601)
    assert error.value.field == "body"
    with pytest.raises(ValidationFailed):
        compose("a" * 1595, "Acme!")  # 1595 + newline + 5
    assert compose(GRIN * 800).units == 1600  # code points, not UTF-16 units, meet the limit


def test_as_dict_shows_every_field():
    assert compose("hello").as_dict() == {
        "text": "hello",
        "encoding": "GSM-7",
        "characters": 5,
        "units": 5,
        "segments": 1,
        "remaining": 155,
    }


def _reference_segments(text: str) -> int:
    """Encode as the PDU would be built, then cut into parts, moving a dangling ESC or high surrogate on."""
    if all(char in GSM7_BASIC + GSM7_EXTENSION for char in text):
        units = [u for char in text for u in (["\x1b", char] if char in GSM7_EXTENSION else [char])]
        single, size, lead = 160, 153, {"\x1b"}
    else:
        raw = text.encode("utf-16-le")
        units = [int.from_bytes(raw[i : i + 2], "little") for i in range(0, len(raw), 2)]
        single, size, lead = 70, 67, set(range(0xD800, 0xDC00))
    if len(units) <= single:
        return 1 if units else 0
    parts: list[list[object]] = []
    while units:
        part, units = units[:size], units[size:]
        if units and part[-1] in lead:
            part, units = part[:-1], [part[-1], *units]
        parts.append(part)
    return len(parts)


_gsm_char = st.sampled_from(GSM7_BASIC + GSM7_EXTENSION)
_any_char = st.one_of(
    _gsm_char, st.sampled_from(["😀", "\U0001f1fa", "ł", "\u200d", "\ufe0f"]), st.characters(codec="utf-8")
)
# A run of one character puts the next two-unit character at every offset from a segment boundary.
_near_boundary = st.builds(
    lambda run, count, tail: run * count + tail,
    st.sampled_from(["a", "€", "ł", "😀"]),
    st.integers(0, 160),
    st.text(_any_char, max_size=160),
)
_text = st.one_of(st.text(_gsm_char, max_size=400), st.text(_any_char, max_size=200), _near_boundary)


@settings(max_examples=200, deadline=None)
@given(_text)
def test_segments_match_a_reference_splitter(text):
    assert segment_info(text).segments == _reference_segments(text)
