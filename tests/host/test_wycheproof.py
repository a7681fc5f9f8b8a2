"""Wycheproof ECDSA P-256 / SHA-256 (DER and P1363) against every backend and on MicroPython.

The vectors come from ../shared/vectors (google-wycheproof 0.9rc5, Apache-2.0; see
WYCHEPROOF-LICENSE there). "valid" cases must verify, "invalid" ones must be rejected with the
documented errors (InvalidSignature, InvalidKey) and nothing else. The JSON is too big for a
MicroPython heap, so CPython feeds the cases to MicroPython as compact lines, in chunks.
"""

import json
import sys
from pathlib import Path

import pytest
from mp_support import FIRMWARE, ROOT, run_micropython, vector_file

sys.path.insert(0, str(ROOT / "tests" / "mp"))
from wycheproof_case import backends, check

FILES = (
    ("ecdsa_secp256r1_sha256_test.json", "D"),
    ("ecdsa_secp256r1_sha256_p1363_test.json", "R"),
)
MP_SCRIPT = ROOT / "tests" / "mp" / "wycheproof_mp.py"
CHUNK = 128


def _cases():
    """[(case id, kind, public key, message, signature, expected result)] of both files."""
    out = []
    for name, kind in FILES:
        data = json.loads(Path(vector_file(name)).read_text())
        for group in data["testGroups"]:
            public_key = bytes.fromhex(group["publicKey"]["uncompressed"])
            for case in group["tests"]:
                assert case["result"] in ("valid", "invalid"), case["tcId"]
                out.append(
                    (
                        "%s/%d" % (kind, case["tcId"]),
                        kind,
                        public_key,
                        bytes.fromhex(case["msg"]),
                        bytes.fromhex(case["sig"]),
                        case["result"],
                    )
                )
    return out


def _backends():
    """(name, backend): every path of the pure backend, and pyca's where it is installed."""
    out = sorted(backends().items())
    try:
        from icpurse.crypto_pyca import PycaBackend
    except ImportError:
        return out
    return [*out, ("pyca", PycaBackend())]


def test_case_count():
    assert len(_cases()) == 746


@pytest.mark.parametrize(("name", "backend"), _backends(), ids=[n for n, _ in _backends()])
def test_wycheproof_on_cpython(name, backend):
    from purse.crypto import tables

    wrong = []
    try:
        for case_id, kind, public_key, message, signature, expected in _cases():
            got = check(backend, kind, public_key, message, signature)
            if got != expected:
                wrong.append("%s: expected %s, got %s" % (case_id, expected, got))
    finally:
        tables.lean(False)  # "pure-lean" leaves it on, as a board would.
    assert not wrong, "\n".join(wrong)


def _line(case):
    case_id, kind, public_key, message, signature, _ = case
    return "%s %s %s %s %s\n" % (
        case_id,
        kind,
        public_key.hex() or "-",
        message.hex() or "-",
        signature.hex() or "-",
    )


@pytest.mark.parametrize("name", sorted(backends()))
def test_wycheproof_on_micropython(name):
    cases = _cases()
    expected = {case[0]: case[5] for case in cases}
    got = {}
    for start in range(0, len(cases), CHUNK):
        chunk = cases[start : start + CHUNK]
        done = run_micropython(
            [str(MP_SCRIPT), str(FIRMWARE), name],
            heap="512K",
            stdin="".join(_line(case) for case in chunk),
        )
        assert done.returncode == 0, done.stderr[-2000:]
        for line in done.stdout.splitlines():
            case_id, _, result = line.partition(" ")
            got[case_id] = result
    wrong = [
        "%s: expected %s, got %s" % (case_id, want, got.get(case_id, "nothing"))
        for case_id, want in expected.items()
        if got.get(case_id) != want
    ]
    assert not wrong, "\n".join(wrong[:50])
