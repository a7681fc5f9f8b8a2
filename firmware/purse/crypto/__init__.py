"""Cryptography of the portable core: HMAC-SHA256, P-256 ECDSA, challenge sealing, backends.

Only the primitives have two implementations (pure Python here for cards, pyca/cryptography in
the host package); the protocol calls them through the Backend interface of backend.py.
"""
