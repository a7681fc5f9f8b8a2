"""The protocol's records: canonical BER-TLV, built, parsed strictly and verified here only.

Every signed record has the shape (docs/PROTOCOL.md section 3)

    TAG_record {
        TAG_SIGNED { TAG_DOMAIN domain, TAG_VERSION 01, fields... }   <- what the signature covers
        TAG_SIGNATURE r||s (64 bytes, low s)
        nested records, if any
    }

Parsing raises RecordError for anything malformed; verification raises InvalidSignature or
InvalidKey. The patent's names (CertT, VoucherI, G1, G2, eC, x, ChallID, S, ctrA) are kept in
the class and attribute names so the code reads next to the patent and docs/DESIGN.md
sections 1 and 2.
"""
