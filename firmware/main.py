"""The wallet's entry point on a board and on the emulator: everything is in wallet_app, which
a board holds precompiled by mpy-cross (source run at boot is compiled into the heap)."""

import os

if "wallet_app.py" in os.listdir():
    # The wallet is held as source (the board's MicroPython reads another .mpy format), and
    # compiling it fragments the heap: the generator's tables, blocks of 8 and 2 KB, are loaded
    # first, while the heap is whole (from purse/crypto/gtables.py, whose compiling needs about
    # 10 KB more for a moment, which an empty heap has). Loaded as .mpy, the wallet loads them
    # after its modules (wallet_app.main), which leaves a heap that trades longer in 160K
    # (measured).
    from purse.crypto import tables

    try:
        import json
    except ImportError:
        import ujson as json
    try:
        # In the shape the board profile asks for (wallet_app.main), or they would be loaded
        # again when the wallet starts, in a heap its compiling has fragmented.
        with open("config.json") as f:
            tables.lean(json.load(f).get("lean_tables", False))
    except (OSError, ValueError, AttributeError):
        pass  # wallet_app reports a missing, unreadable or malformed configuration.
    tables.generator_comb()
    tables.generator_wnaf()

import wallet_app

wallet_app.run()
