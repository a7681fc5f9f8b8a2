"""The one place where MicroPython and CPython differ for the portable core.

Everything here is small on purpose: each helper exists because one interpreter lacks what the
other has, and the rest of the core imports it from here instead of testing the interpreter
itself.
"""

try:
    from micropython import const
except ImportError:  # CPython: const() is only an annotation for the MicroPython compiler.

    def const(value):
        return value


try:
    import sys as _sys

    MICROPYTHON = _sys.implementation.name == "micropython"
except AttributeError:  # Very old ports lack sys.implementation; they are MicroPython.
    MICROPYTHON = True


def host_only(definition):
    """Marks a function, method or class that only the host, the logger or the tests use: the
    card build leaves it out (host/icpurse/strip.py), so a board's heap does not hold it.
    Anywhere else it is the definition itself."""
    return definition


@host_only
def bit_length(value):
    """Return the number of bits needed to write a non-negative integer (0 for 0).

    MicroPython's int has no bit_length() (cpydiff types_int_bit_length), so the core always
    calls this helper. It shifts by bytes first, which keeps it cheap for 256-bit values.
    """
    if value < 0:
        value = -value
    n = 0
    while value >= 0x100000000:
        value >>= 32
        n += 32
    while value:
        value >>= 1
        n += 1
    return n
