"""Reference data vendored into the service, with its provenance (README.md)."""
