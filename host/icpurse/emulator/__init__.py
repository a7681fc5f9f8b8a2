"""Virtual cards: the firmware's own main.py on MicroPython or CPython, behind a pty."""
