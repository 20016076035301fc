import pytest

from chalicelib.phone import InvalidPhoneNumber, mask, normalize, search_prefixes


@pytest.mark.parametrize("raw", ["15125550134", "(512) 555-0134", "+1 512 555 0134", "512.555.0134", "+15125550134"])
def test_common_us_formats_are_one_number(raw):
    assert normalize(raw) == "+15125550134"


def test_international_number_without_plus_is_recognised():
    assert normalize("447911123456") == "+447911123456"


def test_default_region_reads_national_numbers():
    assert normalize("07911 123456", "GB") == "+447911123456"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("", "missing number"), ("call me", "not a phone number"), ("555-0134", "not a valid phone number for region US")],
)
def test_invalid_numbers_say_why(raw, reason):
    with pytest.raises(InvalidPhoneNumber) as error:
        normalize(raw)
    assert error.value.reason == reason


def test_search_prefixes_map_partial_input_to_e164():
    assert search_prefixes("(512) 555") == ["+1512555"]
    assert search_prefixes("+44 79") == ["+4479"]
    assert search_prefixes("1512") == ["+1512"]
    assert search_prefixes("---") == []


def test_mask_keeps_only_country_code_and_last_digits():
    assert mask("+15125550134") == "+15*******34"
