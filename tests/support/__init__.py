"""What the tests share: served apps and their ports, the pooler, the broker, the identity provider, the
front, factories of records, waits. Test modules import from here, never from each other; the
benchmarks (``load_tests/``) import from here too, never the reverse."""
