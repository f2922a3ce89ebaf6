# syntax=docker/dockerfile:1
# Runs the API against an external PostgreSQL (SNP_DATABASE_URL). Build: docker build -t snp .
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md alembic.ini constraints.txt ./
COPY app ./app
COPY migrations ./migrations
RUN python -m venv /venv && /venv/bin/pip install --upgrade pip && /venv/bin/pip install -c constraints.txt .

FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 SNP_ENV=production HOST=0.0.0.0 PORT=8000
RUN useradd --system --uid 10001 --create-home snp
WORKDIR /srv
COPY --from=build /venv /venv
COPY --chown=snp:snp alembic.ini ./
COPY --chown=snp:snp migrations ./migrations
COPY --chown=snp:snp app ./app
USER snp
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=2).status == 200 else 1)"
# SNP_DATABASE_URL, SNP_PUBLIC_URL and SNP_JWT_SECRET (or SNP_OIDC_*) must be given; migrations run at
# start-up. uvicorn's proxy headers stay off: the app reads X-Forwarded-* from SNP_TRUSTED_PROXIES only
# (the nginx of deploy/nginx/ in front; uvicorn is never exposed directly).
CMD ["sh", "-c", "exec uvicorn app.main:app --host $HOST --port $PORT --workers ${WORKERS:-2} --no-proxy-headers"]
