"""The supply-chain gate: the stack's signing profile (signing.py), the Notation CLI and AWS Signer plugin in the
steps (notation.py), the records bucket that keeps each digest's SBOM and scan verdict (records.py), and the
building stack's Scan stage (gate.py)."""
