"""The compat helpers behave the same on both interpreters."""

from purse.compat import bit_length, const


def test_bit_length_matches_definition():
    assert bit_length(0) == 0
    assert bit_length(1) == 1
    assert bit_length(255) == 8
    assert bit_length(256) == 9
    assert bit_length(-5) == 3
    for n in (1, 31, 32, 33, 63, 64, 65, 255, 256, 257):
        assert bit_length((1 << n) - 1) == n
        assert bit_length(1 << n) == n + 1


def test_const_returns_its_value():
    assert const(0x81) == 0x81
