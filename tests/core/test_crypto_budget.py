"""Memory budget: signing and verification run in a 96K heap with the core as .mpy files.

docs/DESIGN.md section 11 sets crypto sign + verify alone to fit in `-X heapsize=96K` on the 64-bit
Unix port; this module runs under exactly that heap on MicroPython (and normally on CPython).
"""

import gc

from purse.crypto.pure import PureBackend

MP_HEAP = "96K"
MP_MPY = True

KEY = bytes(range(1, 33))


def test_sign_and_verify_in_96k():
    gc.collect()
    backend = PureBackend()
    pub = backend.public_key(KEY)
    for i in range(3):
        message = b"payment %d" % i
        sig = backend.sign(KEY, message, extra_entropy=b"\x55" * 32)
        backend.verify(pub, message, sig)
        gc.collect()


def test_precomputed_key_in_96k():
    gc.collect()
    backend = PureBackend()
    pub = backend.public_key(KEY)
    backend.precompute(pub)
    sig = backend.sign(KEY, b"voucher")
    backend.verify(pub, b"voucher", sig)
