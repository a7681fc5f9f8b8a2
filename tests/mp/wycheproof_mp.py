"""Run Wycheproof ECDSA cases fed on stdin through the pure backend on MicroPython.

Usage: micropython tests/mp/wycheproof_mp.py SRC_DIR [BACKEND] < cases
(BACKEND: a name of wycheproof_case.backends(), "pure" by default)
Each input line is "ID KIND PUBLIC_KEY MESSAGE SIGNATURE" (hex fields, "-" for empty); each
output line is "ID valid", "ID invalid" or "ID crash <exception>".
"""

import sys

sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[0].rsplit("/", 1)[0])

from binascii import unhexlify

from wycheproof_case import backends, check


def _bytes(field):
    return b"" if field == "-" else unhexlify(field)


def main():
    backend = backends()[sys.argv[2] if len(sys.argv) > 2 else "pure"]
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        fields = line.split()
        if len(fields) != 5:
            continue
        case_id, kind = fields[0], fields[1]
        try:
            result = check(backend, kind, _bytes(fields[2]), _bytes(fields[3]), _bytes(fields[4]))
        except Exception as exc:  # noqa: BLE001 - a crash is a result the host reports.
            result = "crash " + repr(exc).replace(" ", "_")
        print(case_id, result)


main()
