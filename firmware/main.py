"""The wallet's entry point on a board and on the emulator: everything is in wallet_app, which
a board holds precompiled by mpy-cross (source run at boot is compiled into the heap)."""

import wallet_app

wallet_app.run()
