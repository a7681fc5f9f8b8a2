"""Virtual cards: the firmware's own main.py on MicroPython or CPython, behind a pty.

This module stays light: the command line reads its constants while building its help.
"""

import os
import tempfile

# Where `icpurse field` listens and emulated boards with --nfc join it, unless told otherwise.
DEFAULT_SOCKET = os.path.join(tempfile.gettempdir(), "icpurse-field.sock")

# The emulated board's flash block, the unit of its LittleFS image.
BLOCK = 4096

# The interpreters an emulated card runs on, and the MicroPython heap it gets by default.
RUNTIMES = ("micropython", "cpython")
DEFAULT_HEAP = "256K"
