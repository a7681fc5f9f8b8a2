"""The third-party logger L: storage, Merkle tree, HTTP service and client."""
