"""Authority key pairs on disk: a PEM private key (PKCS#8, encrypted when a passphrase is
given) and the public key as hex of its 33-byte compressed SEC1 form."""

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from icpurse.authority import AuthorityError
from icpurse.crypto_pyca import PycaBackend
from purse import proto
from purse.crypto.backend import Signer


def public_bytes(private_key):
    return private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )


def create(key_path, pub_path, passphrase=None):
    """Generate a P-256 key pair; refuse to overwrite an existing key. Returns the public key."""
    key_path, pub_path = Path(key_path), Path(pub_path)
    for path in (key_path, pub_path):
        if path.is_dir():
            raise AuthorityError("%s is a directory, not a key file" % path)
        if path.exists():
            raise AuthorityError("refusing to overwrite the existing key %s" % path)
    if key_path.parent.exists() and not key_path.parent.is_dir():
        raise AuthorityError("%s is a file, not a directory for the key" % key_path.parent)
    key = ec.generate_private_key(ec.SECP256R1())
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    try:
        key_path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL makes the no-overwrite rule hold even against a concurrent init.
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AuthorityError("refusing to overwrite the existing key %s" % key_path) from None
    except OSError as exc:
        raise AuthorityError("cannot write the key %s: %s" % (key_path, exc.strerror)) from None
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
        out.flush()
        os.fsync(out.fileno())
    public = public_bytes(key)
    pub_path.write_text(public.hex() + "\n")
    return public


def load_signer(key_path, passphrase=None):
    """A purse Signer for the key in `key_path`; clear errors for every way loading fails."""
    key = load_private(key_path, passphrase)
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    return Signer(PycaBackend(), scalar)


def load_private(key_path, passphrase=None):
    """The P-256 private key in `key_path` as pyca's object (for what a Signer does not do,
    such as opening an operator's sealed session); clear errors for every way loading fails."""
    key_path = Path(key_path)
    pem = read_small(key_path, "key", "no key at %s (run init first)" % key_path)
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase or None)
    except TypeError:
        if passphrase:
            raise AuthorityError(
                "%s is not encrypted, but a passphrase was given" % key_path
            ) from None
        raise AuthorityError(
            "%s is encrypted: give --passphrase-file or set ICPURSE_PASSPHRASE" % key_path
        ) from None
    except ValueError:
        if passphrase and b"ENCRYPTED" in pem:
            raise AuthorityError("wrong passphrase for %s" % key_path) from None
        raise AuthorityError("%s is not a readable PEM private key" % key_path) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise AuthorityError("%s is not a P-256 key" % key_path)
    return key


# The most a key, public key or passphrase file is read for: each is far smaller, and more
# could only be a mistake (a database, or a device such as /dev/zero that never ends).
KEY_FILE_MAX = 16384


def read_small(path, what, missing=None):
    """The bytes of the file `path`, a `what` file; an AuthorityError for a file that is
    missing (`missing`, if given, says what to do), a directory, unreadable or too large."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read(KEY_FILE_MAX + 1)
    except FileNotFoundError:
        raise AuthorityError(missing or "there is no %s file at %s" % (what, path)) from None
    except IsADirectoryError:
        raise AuthorityError("%s is a directory, not a %s file" % (path, what)) from None
    except OSError as exc:
        raise AuthorityError("cannot read %s: %s" % (path, exc.strerror or exc)) from None
    if len(data) > KEY_FILE_MAX:
        raise AuthorityError("%s is too large to be a %s file" % (path, what))
    return data


def read_public(pub_path):
    """The 33-byte public key from a .pub file, or from hex text given directly."""
    text = str(pub_path)
    path = Path(text)
    if path.exists():
        try:
            text = read_small(path, "public key").decode("ascii")
        except UnicodeDecodeError:
            raise AuthorityError("%s is not a public key file (not text)" % path) from None
        if text.lstrip().startswith("-----BEGIN"):
            # The key pair's PEM file, given where its public key goes: a common slip.
            raise AuthorityError(
                "%s is a PEM key file; give the public key, in the .pub file made beside it" % path
            )
    elif "/" in text or os.sep in text or path.suffix == ".pub":
        # A path, not hex: say which part of it is missing rather than that it is not hex.
        if not path.parent.is_dir():
            raise AuthorityError(
                "%s is not a directory (one holding %s)" % (path.parent, path.name)
            )
        raise AuthorityError("%s has no %s" % (path.parent, path.name))
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise AuthorityError("%s is neither a public key file nor hex" % pub_path) from None
    if len(key) != proto.PUBLIC_KEY_SIZE or key[0] not in (2, 3):
        raise AuthorityError("%s is not a 33-byte compressed P-256 public key" % pub_path)
    return key
