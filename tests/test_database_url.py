"""The database URLs people paste: libpq's forms become what SQLAlchemy hands to asyncpg."""

from __future__ import annotations

import pytest

from app.platform.database import normalize_url


@pytest.mark.parametrize(("given", "used"), [
    ("postgresql://snp:pw@db:5432/snp", "postgresql+asyncpg://snp:pw@db:5432/snp"),
    ("postgres://snp@db/snp", "postgresql+asyncpg://snp@db/snp"),
    ("postgresql+asyncpg://postgres@/snp?host=/run/pg&port=5432", "postgresql+asyncpg://postgres@/snp?host=/run/pg&port=5432"),
    # a primary and its standby: asyncpg tries both and keeps the one that accepts writes
    ("postgresql://snp:p%40ss@10.0.0.10:5432,10.0.0.11:5433/snp?target_session_attrs=read-write",
     "postgresql+asyncpg://snp:p%40ss@/snp?host=10.0.0.10:5432&host=10.0.0.11:5433&target_session_attrs=read-write"),
    ("postgresql://snp@a,b/snp", "postgresql+asyncpg://snp@/snp?host=a&host=b"),
])
def test_libpq_urls_are_read_as_libpq_reads_them(given: str, used: str) -> None:
    assert normalize_url(given) == used
