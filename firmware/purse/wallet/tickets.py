"""The ready-ticket of embodiment 2: the logger's signed "I can accept a log now", bound to
the card's current nonce. Used by ACCEPT and by TAKE TICKET (a card's L-time from the logger)."""

from purse import proto
from purse.errors import TicketRefused, WrongState
from purse.records.logger import Ticket


def check_ticket(card, data, window):
    """A ticket signed by L for the card's current nonce, not older than `window` of L-time.

    Returns the Ticket; the caller advances L-time in the state it commits.
    """
    if card.state.logger_key is None:
        raise WrongState("install PkL first")
    if data is None:
        raise TicketRefused("a ready-ticket is required")
    ticket = Ticket.decode(data)
    ticket.verify(card.backend, card.state.logger_key, card.state.log_id)
    if card.nonce is None or ticket.nonce != card.nonce:
        raise TicketRefused("the ticket binds another nonce")
    if ticket.ltime + window < card.state.ltime:
        raise TicketRefused("the ticket is older than the settlement window")
    return ticket


def get_nonce(card):
    """A fresh 16-byte nonce for a ready-ticket; kept in RAM and used once."""
    if card.state.lifecycle == proto.STATE_FRESH:
        raise WrongState("generate the key first")
    card.nonce = bytes(card.rng(proto.RANDOM_SIZE))
    return card.nonce
