"""The third-party logger L: its HTTP API (api/), its rules (service/), all of its SQL
(storage/), what a client needs (client/), and the Merkle tree, worker processes, signers,
verifiers and sequencer they share."""
