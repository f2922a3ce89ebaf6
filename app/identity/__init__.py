"""The patient's identity: sealed at rest (AES-256-GCM by key id), opened where it is read, found again
by keyed hashes, and sealed again under a new key (``snp keys rotate``), in one place."""
