"""Benchmarks and locust scenarios. Each benchmark module exposes ``main()`` and appends its figures
to ``load_tests/results.md``; ``make bench`` runs them all against a fresh embedded PostgreSQL."""
