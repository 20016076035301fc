import pytest

from chalicelib.phone import InvalidPhoneNumber, mask, normalize, search_prefixes

SPREADSHEET = (
    "the spreadsheet turned this column into numbers and dropped digits (scientific notation): "
    "format the column as text and enter the numbers again"
)
LETTERS = "letters mixed with digits: not a phone number"


def reason_for(raw, region="US"):
    with pytest.raises(InvalidPhoneNumber) as error:
        normalize(raw, region)
    return error.value.reason


@pytest.mark.parametrize("raw", ["15125550134", "(512) 555-0134", "+1 512 555 0134", "512.555.0134", "+15125550134"])
def test_common_us_formats_are_one_number(raw):
    assert normalize(raw) == "+15125550134"


@pytest.mark.parametrize(
    "raw",
    [
        "512/555/0134",
        "512\u00a0555\u00a00134",  # non-breaking spaces
        "512\u2013555\u2013\u20110134",  # en dashes and a non-breaking hyphen, as word processors write them
        "\u200e+1 512 555 0134\u200f",  # direction marks around a number in right-to-left text
        "\u0665\u0661\u0662\u0665\u0665\u0665\u0660\u0661\u0663\u0664",  # Arabic-Indic digits
        "\u06f5\u06f1\u06f2\u06f5\u06f5\u06f5\u06f0\u06f1\u06f3\u06f4",  # Persian digits
        "\u0967\u096b\u0967\u0968\u096b\u096b\u096b\u0966\u0967\u0969\u096a",  # Devanagari digits
        "\uff0b\uff11 (\uff15\uff11\uff12) \uff15\uff15\uff15\uff0d\uff10\uff11\uff13\uff14",  # full-width forms
        "tel:+1-512-555-0134",
        "TEL: 512 555 0134",
    ],
)
def test_digits_of_any_script_and_number_punctuation_are_read(raw):
    assert normalize(raw) == "+15125550134"


@pytest.mark.parametrize(
    "raw",
    [
        "512-555-0134 ext. 12",
        "512-555-0134 Ext: 12",
        "(512) 555-0134 extension 12",
        "5125550134x12",
        "512 555 0134 #12",
        "tel:+1-512-555-0134;ext=12",
        "\uff15\uff11\uff12\uff15\uff15\uff15\uff10\uff11\uff13\uff14 \uff45\uff58\uff54 12",  # full-width
    ],
)
def test_an_extension_is_left_out_of_the_number(raw):
    assert normalize(raw) == "+15125550134"


@pytest.mark.parametrize(
    "raw",
    [
        "447911123456",
        "44 7911 123456",
        "44-7911-123456",
        "\u0664\u0664\u0667\u0669\u0661\u0661\u0661\u0662\u0663\u0664\u0665\u0666",
    ],
)
def test_international_number_without_plus_is_recognised(raw):
    assert normalize(raw) == "+447911123456"


def test_default_region_reads_national_numbers():
    assert normalize("07911 123456", "GB") == "+447911123456"


@pytest.mark.parametrize(
    "raw", ["1.51255513E+10", "1,51255513E+10", "1.5e10", "15125551310E0", "1.51255513E+10 ", "\uff11.\uff15E+10"]
)
def test_scientific_notation_is_a_spreadsheet_that_dropped_digits(raw):
    assert reason_for(raw) == SPREADSHEET


@pytest.mark.parametrize(
    "raw",
    [
        "order 4 4791 1123 456",
        "call 512 555 0134",
        "512-555-0134 (mobile)",
        "mobile: 512-555-0134",
        "512-555-0134 ext. 12 (office)",
        "+44 7911 123456 UK",
        "tel:+1-512-555-0134;phone-context=example.com",
        # "call" in Arabic, then Arabic-Indic digits
        "\u0627\u062a\u0635\u0644 \u0665\u0661\u0662\u0665\u0665\u0665\u0660\u0661\u0663\u0664",
    ],
)
def test_digits_among_words_are_refused(raw):
    assert reason_for(raw) == LETTERS


def test_words_are_never_retried_as_an_international_number():
    """ "order 4 4791 1123 456" has exactly a UK mobile's digits: they are not read as one."""
    assert normalize("4 4791 1123 456") == "+447911123456"
    assert reason_for("order 4 4791 1123 456") == LETTERS


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "missing number"),
        ("   ", "missing number"),
        ("call me", "not a phone number"),
        ("n/a", "not a phone number"),
        ("-", "not a phone number"),
        ("555-0134", "not a valid phone number for region US"),
        ("5125550134 5125550135", "not a valid phone number for region US"),
        ("512,555,0134", "',' cannot be in a phone number"),
        ("5125550134;5125550135", "';' cannot be in a phone number"),
        ("512555013\u00b2", "'²' cannot be in a phone number"),
        ("'5125550134", '"\'" cannot be in a phone number'),
    ],
)
def test_invalid_numbers_say_why(raw, reason):
    assert reason_for(raw) == reason


def test_search_prefixes_map_partial_input_to_e164():
    assert search_prefixes("(512) 555") == ["+1512555"]
    assert search_prefixes("+44 79") == ["+4479"]
    assert search_prefixes("1512") == ["+1512"]
    assert search_prefixes("---") == []


def test_mask_keeps_only_country_code_and_last_digits():
    assert mask("+15125550134") == "+15*******34"
