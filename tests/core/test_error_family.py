"""One error family: what the core's client raises is a PurseError too.

Runs on CPython and on MicroPython.
"""

from _check import raises

from purse import proto
from purse.client import CardClient, CardError, CardReset, WrongPayment
from purse.errors import PurseError


def test_card_error_and_card_reset_are_purse_errors():
    assert issubclass(CardError, PurseError)
    assert issubclass(CardReset, PurseError)
    assert issubclass(WrongPayment, PurseError)
    error = CardError("GET INFO", proto.SW_WRONG_STATE)
    assert isinstance(error, PurseError) and error.sw == proto.SW_WRONG_STATE


def test_a_refusal_is_caught_as_a_purse_error():
    client = CardClient(lambda apdu: b"\x69\x85")
    with raises(PurseError) as caught:
        client.info()
    assert isinstance(caught.value, CardError) and caught.value.sw == proto.SW_WRONG_STATE
