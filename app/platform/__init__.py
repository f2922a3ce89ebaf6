"""The platform: settings, logging, the database and its replica, the embedded PostgreSQL, periodic
jobs, the job pool, the domain errors. It imports no domain and no FastAPI."""
