"""Settings: one pydantic-settings class, environment prefix ``SNP_``."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.platform.addresses import Network, parse_networks

# The development keyring of the patient's identity (app/identity/crypto.py): fixed, public, refused in production.
DEV_KEY_ID = "dev"
DEV_KEY = base64.b64encode(hashlib.sha256(b"snp development identity key").digest()).decode()
DEV_HASH_KEY = base64.b64encode(hashlib.sha256(b"snp development identity hash key").digest()).decode()
DEV_JWT_SECRET = "dev-secret-change-me-dev-secret-change-me"
# `snp serve`'s address with its default host and port: the public URL when none is set (development).
DEV_PUBLIC_URL = "http://127.0.0.1:8000"


# Requests per minute of each budget (app/http/ratelimit.py); a setting names only those it changes.
# ``fhir_search`` is the FHIR slot search's (GET /fhir/Slot): the national platform searches there with one
# token for every regulator in France, so it is not held to a console user's ``search``.
RATE_LIMITS = {"search": 600, "booking": 300, "import": 30, "auth_failure": 300, "self_referral": 10, "sign_in": 120,
               "fhir_search": 3000, "patient_link": 30, "public_list": 60,
               "answer_link": 30}


def _listed(value: object) -> object:
    """A list setting given as text: a JSON list, or comma-separated."""
    if isinstance(value, str):
        return json.loads(value) if value.strip().startswith("[") else value.split(",")
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SNP_", env_file=".env", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    # Unset: the app starts an embedded PostgreSQL in ``data_dir`` itself.
    database_url: str | None = None
    data_dir: Path = Path("./.data")
    migrate_on_start: bool = True
    # A hot standby of the primary (streaming replication) for the searches and the statistics
    # (app/platform/replica.py): used while it is no more than replica_max_lag_seconds behind, measured every
    # replica_check_seconds; the primary otherwise. Unset: every read on the primary.
    database_replica_url: str | None = None
    replica_max_lag_seconds: float = Field(default=2.0, ge=0)
    replica_check_seconds: float = Field(default=0.5, gt=0)
    # Backups (app/platform/backup.py, `snp db backup` / `snp db restore`, on the backup host): Barman's configuration
    # file (unset: Barman's own search, ~/.barman.conf then /etc/barman.conf), the Barman server that is this
    # database, and the file of node_exporter's textfile collector where each successful backup writes its time
    # (snp_backup_last_success_timestamp_seconds; unset: not written).
    barman_config: Path | None = None
    barman_server: str = "snp"
    backup_metrics_file: Path | None = None
    # Connections each worker keeps open. No overflow by default: under load, overflow connections
    # are opened and closed over and over (a server process and re-prepared statements each time),
    # while a request that waits a moment for a pooled connection costs nothing.
    db_pool_size: int = 20
    # The slot search's own pool, per worker (app/platform/database.py make_engine): counted beside db_pool_size.
    db_search_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = 0
    # Every statement of the app is cancelled past this (milliseconds; 0: never), so that no request
    # can keep PostgreSQL busy after its client has given up; a transaction left idle is ended too.
    # The monthly statistics take report_statement_timeout_ms instead (a national year reads
    # millions of calls).
    db_statement_timeout_ms: int = 15_000
    db_idle_in_transaction_timeout_ms: int = 60_000
    report_statement_timeout_ms: int = 60_000
    # Seconds a request may take before it is cancelled and answered 503 (longer for the statistics and
    # the imports: app/http/deadline.py); 0: no deadline. A request whose client has gone is cancelled too.
    request_deadline_seconds: float = 30.0

    jwt_secret: str = DEV_JWT_SECRET
    # The key of every signed link (self-referral links, app/calls/self_referral.py; the patient's cancel links,
    # app/notices/links.py), each kind under a key of its own derived from it. SNP_SELF_REFERRAL_SECRET, its
    # first name, still works; unset both: derived from the JWT secret, which production refuses when tokens
    # come from an identity provider (that secret is then unused).
    link_secret_key: str | None = Field(default=None, validation_alias="SNP_LINK_SECRET")
    self_referral_secret: str | None = None
    jwt_algorithm: str = "HS256"
    jwt_issuer: str = "snp"
    jwt_audience: str | None = None
    # An OIDC provider (e.g. Pro Santé Connect): tokens verified against its JWKS.
    oidc_issuer: str | None = None
    oidc_jwks_url: str | None = None
    oidc_audience: str | None = None
    oidc_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    # Claims of the provider's tokens that carry the national id (8 + RPPS, or another form): the users
    # registry finds a user by its subject, its whole national id (the platform's regulator accounts), its RPPS.
    oidc_national_id_claims: list[str] = Field(default_factory=lambda: ["SubjectNameID", "preferred_username"])
    # The console's sign-in (authorization code with PKCE; the server exchanges the code, with the
    # client secret when the provider wants one). Endpoints: from the issuer's discovery document,
    # unless given.
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scope: str = "openid"
    oidc_authorization_url: str | None = None
    oidc_token_url: str | None = None
    # Our terms of use, accepted at the first sign-in of a regulator the national platform registered
    # (app/auth/terms.py); unset: the French text shipped with the service.
    terms_file: Path | None = None

    # The national SAS platform's FHIR endpoint our bookings are declared to (FrAppointmentSAS, from the
    # outbox: app/fhir/declare.py); unset: nothing is declared. It authenticates us by a bearer token
    # and/or a client certificate (IGC-Santé, mutual TLS).
    ptf_sas_fhir_url: str | None = None
    ptf_sas_token: str | None = None
    ptf_sas_client_cert: Path | None = None
    ptf_sas_client_key: Path | None = None
    ptf_sas_timeout_seconds: float = 10.0
    ptf_sas_declare_seconds: float = 1.0
    # The territories of the regulator accounts the platform registers here (INT_R02, POST/PUT
    # /fhir/Practitioner): the resource carries none, so they are ours to give (the SAS this deployment
    # serves, a JSON list or comma-separated); an administrator may change an account's afterwards
    # (PATCH /v1/users/{id}), and the platform's updates never touch them.
    ptf_sas_regulator_territories: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("ptf_sas_regulator_territories", mode="before")
    @classmethod
    def _regulator_territories(cls, value: object) -> object:
        value = _listed(value)
        if isinstance(value, list):
            return sorted({str(v).strip() for v in value if str(v).strip()})
        return value

    # Seconds between two readings of the users registry's generation (app/auth/revocation.py): a disabled
    # account is refused by every process within about this time; 0: not watched (caches expire alone).
    registry_check_seconds: float = Field(default=1.0, ge=0)

    # The Hub Santé (app/hub): every appointment goes to the SAMU of its département over AMQP 0-9-1;
    # unset: nothing is sent. Published on ``hub_exchange`` with our sender id as routing key (the Hub
    # routes by the envelope's address); final acknowledgements and errors are read from our
    # ``<sender>.ack`` and ``<sender>.info`` queues. ``hub_samu_ids``: département code -> SAMU id, e.g.
    # {"36": "fr.health.samu360"}; a département without one is not sent (and said in the log).
    hub_amqp_url: str | None = None
    hub_sender_id: str = "fr.health.snp"
    hub_exchange: str = "hubsante"
    hub_samu_ids: dict[str, str] = Field(default_factory=dict)
    hub_message_ttl_seconds: int = 86400
    hub_publish_seconds: float = 1.0

    # Seconds between two looks for agenda sources due (snp agenda add: a practitioner's editor pulled on a
    # schedule); 0: never (a cron runs `snp agenda sync` instead).
    agenda_sync_seconds: float = 30.0

    # Seconds a SMART Scheduling Links publication (GET /fhir/$bulk-publish) is kept by an instance.
    bulk_publish_seconds: float = 60.0

    # Patient identity at rest (app/identity/crypto.py): AES-256-GCM keys by id (32 bytes in base64), the id that
    # seals new values, and the key of the hashes that find a call by name or phone. The development
    # values are public: production refuses them.
    identity_keys: dict[str, str] = Field(default_factory=lambda: {DEV_KEY_ID: DEV_KEY})
    identity_key_id: str = DEV_KEY_ID
    identity_hash_key: str = DEV_HASH_KEY

    hold_minutes: int = 5
    slot_horizon_days: int = 90
    clock_skew_seconds: int = 120
    retention_days: int = 90
    # Days the regulation's record (the observations of a call) is kept before its text is emptied: the
    # medical record's own rule, 20 years (Code de la santé publique, art. R1112-7), not the identity's 90.
    record_retention_days: int = Field(default=7305, ge=1)
    # Seconds between two scheduled purges of patient identity older than retention_days (0: never,
    # when a cron runs ``snp purge`` instead).
    purge_interval_seconds: float = 3600.0
    # Days a patient's identity is kept on the MT waiting list once his request is found or closed (never while it
    # waits: the calls' retention_days would erase patients who wait longer); app/mt/retention.py.
    mt_retention_days: int = Field(default=90, ge=1, le=36500)
    # Days the doctor's answer link of an MT proposal (/mt/{token}, app/mt/links.py) stays valid.
    mt_answer_link_days: int = Field(default=14, ge=1, le=90)
    log_level: str = "INFO"
    log_json: bool = True
    relay_enabled: bool = True
    # Requests per minute for each token (each client address without one) on the expensive routes,
    # and failed sign-ins per client address; shared by every instance (app/http/ratelimit.py).
    rate_limits_enabled: bool = True
    rate_limits: dict[str, int] = Field(default_factory=lambda: dict(RATE_LIMITS))

    @field_validator("rate_limits")
    @classmethod
    def _every_budget(cls, value: dict[str, int]) -> dict[str, int]:
        return {**RATE_LIMITS, **value}
    rate_limit_sync_seconds: float = 1.0
    # The proxies in front of the app (addresses or CIDRs, a JSON list or comma-separated): from them only
    # are X-Forwarded-For, X-Forwarded-Proto and X-Client-Cert believed (app/http/proxies.py). Empty: nobody's.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: object) -> object:
        value = _listed(value)
        if isinstance(value, list):
            parse_networks(str(v) for v in value)  # refused at start-up, not at the first request
            return [str(v).strip() for v in value if str(v).strip()]
        return value

    # The address the world reaches this service at (scheme, host, optional path), e.g.
    # https://snp.example.fr: every absolute URL the app writes (FHIR links, Location, the booking page of a
    # Slot) is built from it, never from a request's Host. Required in production; in development
    # `snp serve` sets its own address, and DEV_PUBLIC_URL stands in when nothing did.
    public_url: str | None = None

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("SNP_PUBLIC_URL must be an http(s) URL without query or fragment, e.g. "
                             "https://snp.example.fr")
        return value.strip().rstrip("/")

    # Telling the patient of his appointment (app/notices): e-mail by SMTP (smtp://host:port, smtps://… for TLS
    # from the start, smtp+starttls://…; user and password in the URL), from SNP_SMTP_FROM; SMS through an HTTP
    # gateway (Brevo's transactional SMS API: SNP_SMS_URL, its key SNP_SMS_TOKEN, the sender name shown on the
    # phone SNP_SMS_SENDER), or, in development, appended to the file SNP_SMS_SINK. Unset: that channel is
    # not sent (messages wait). A message not delivered is tried again with backoff from
    # notice_retry_seconds, doubling up to notice_retry_max_seconds, and given up after notice_give_up_seconds
    # (or at the appointment's start); the call and /metrics show it.
    smtp_url: str | None = None
    smtp_from: str = "SAS <ne-pas-repondre@sas.invalid>"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    # Over TLS, the SMTP server's certificate is checked against this CA file (PEM) alone; unset: the system's.
    smtp_ca_file: Path | None = None
    sms_url: str | None = None
    sms_token: str | None = None
    sms_sender: str = Field(default="SAS", pattern=r"^[A-Za-z0-9 ]{1,11}$")
    sms_sink: Path | None = None
    # The number the patient calls (the SMS says replies are not read): the SAS's own, else the 116 117.
    notice_phone: str = "116 117"
    notice_seconds: float = Field(default=1.0, gt=0)
    notice_retry_seconds: float = Field(default=30.0, gt=0)
    notice_retry_max_seconds: float = Field(default=900.0, gt=0)
    notice_give_up_seconds: float = Field(default=6 * 3600.0, gt=0)
    # The reminder before the appointment (app/notices/reminders.py): this long before it (an ISO 8601 duration,
    # PT2H, or seconds), none if booked later than that, none at night.
    reminder_before: dt.timedelta = Field(default=dt.timedelta(hours=2), gt=dt.timedelta(0))
    # Moves the clock of the patient's messages (the database's now() as the queueing and the sender read it)
    # this many seconds ahead: to rehearse and test what is due later; refused in production.
    notice_clock_offset_seconds: float = 0.0

    @field_validator("reminder_before", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        """Seconds given as text (an environment variable) are seconds, as an ISO 8601 duration is one."""
        if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
            return float(value)
        return value

    # The visit's report to the patient's médecin traitant (app/notices/reports.py) by secure mail (MSSanté): SMTP
    # over TLS (smtps://host:port or smtp+starttls://host:port; plain smtp is refused) from the CPTS's applicative
    # mailbox SNP_MSSANTE_FROM, presenting its certificate (SNP_MSSANTE_CLIENT_CERT / _KEY, PEM: IGC-Santé's in
    # production, where they are required), the operator's server checked against SNP_MSSANTE_CA_FILE (else the
    # system's authorities). A report not delivered is retried as the patient's messages are and given up after
    # mssante_give_up_seconds. Unset URL: no report is sent (they wait, pending, on their bookings).
    mssante_smtp_url: str | None = None
    mssante_from: str | None = None
    mssante_client_cert: Path | None = None
    mssante_client_key: Path | None = None
    mssante_ca_file: Path | None = None
    mssante_give_up_seconds: float = Field(default=3 * 86400.0, gt=0)

    @field_validator("mssante_smtp_url")
    @classmethod
    def _mssante_smtp_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("smtps", "smtp+starttls") or not parts.hostname:
            raise ValueError("SNP_MSSANTE_SMTP_URL must be smtps://host:port or smtp+starttls://host:port (MSSanté "
                             "is reached over TLS only)")
        return value.strip()

    @model_validator(mode="after")
    def _mssante_whole(self) -> Settings:
        if (self.mssante_client_cert is None) != (self.mssante_client_key is None):
            raise ValueError("SNP_MSSANTE_CLIENT_CERT and SNP_MSSANTE_CLIENT_KEY go together")
        if self.mssante_smtp_url and not self.mssante_from:
            raise ValueError("SNP_MSSANTE_SMTP_URL needs SNP_MSSANTE_FROM, the CPTS's applicative mailbox")
        if self.env == "production" and self.mssante_smtp_url and self.mssante_client_cert is None:
            raise ValueError("SNP_MSSANTE_SMTP_URL needs the mailbox's certificate in production mode "
                             "(SNP_MSSANTE_CLIENT_CERT and SNP_MSSANTE_CLIENT_KEY)")
        return self

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
            raise ValueError("SNP_SMTP_URL must be smtp://host:port, smtps://host:port or smtp+starttls://host:port")
        return value.strip()

    # Consoles one instance streams live calls to (GET /v1/stream); beyond, 503. One account (its tokens
    # together) keeps at most live_max_per_token streams: its next one ends its oldest (a console
    # reconnecting after a blip is never refused because its dead stream is not noticed yet).
    live_max_subscribers: int = 2000
    live_max_per_token: int = Field(default=3, ge=1)
    # CPU-heavy work (calendars, imports, report files) runs in job_workers processes (app/platform/jobs.py); a
    # job is stopped past job_seconds or when it asks for job_memory_mb more memory; a job waits at most
    # job_wait_seconds for a free worker (503 with Retry-After past that).
    job_workers: int = Field(default=2, ge=1, le=64)
    job_seconds: float = Field(default=10.0, gt=0)
    job_memory_mb: int = Field(default=160, ge=0)
    job_wait_seconds: float = Field(default=5.0, gt=0)
    # A calls import (up to 64 MB of CSV or NDJSON) is read in a job with limits of its own: 750 000 rows
    # take some 12 s and 1.1 GB to read.
    import_job_seconds: float = Field(default=60.0, gt=0)
    import_job_memory_mb: int = Field(default=1536, ge=0)
    # Seconds a request waits for a pooled database connection before it is answered 503.
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    # Seconds between two checks that the embedded PostgreSQL (when the app started it) still runs;
    # a dead one is started again (0: never).
    embedded_supervise_seconds: float = 2.0
    # Hosts a webhook may target although they are internal (loopback, private): for tests and local
    # receivers only; empty by default, and refused in production (app/platform/outbound.py).
    webhook_allowed_hosts: list[str] = Field(default_factory=list)
    relay_interval_seconds: float = 1.0
    # Seconds between two foldings of the national statistics rollup (0: never, e.g. when a cron runs
    # ``snp stats compact`` instead).
    stats_compact_seconds: float = 300.0
    # The monthly reports (app/stats/cache.py): every process on the database together computes at most
    # stats_concurrency at a time (shared turns: advisory locks), the next waits at most stats_wait_seconds for
    # its turn (503 with Retry-After past that); a report of months that have ended is kept (up to
    # stats_kept_reports of them per process, 0: none) until a write touches what it counts.
    stats_concurrency: int = Field(default=1, ge=1, le=64)
    stats_wait_seconds: float = Field(default=10.0, gt=0)
    stats_kept_reports: int = Field(default=256, ge=0)

    @model_validator(mode="after")
    def _refuse_dev_secret_in_production(self) -> Settings:
        if self.env == "production" and self.oidc_jwks_url is None and self.jwt_secret == DEV_JWT_SECRET:
            raise ValueError(
                "SNP_JWT_SECRET is still the development secret: refusing to start in production mode"
            )
        if self.env == "production" and self.oidc_jwks_url is not None and not (self.link_secret_key
                                                                               or self.self_referral_secret):
            raise ValueError("SNP_LINK_SECRET is required in production mode with an identity provider: "
                             "signed links would be signed with the development secret")
        if self.env == "production" and self.notice_clock_offset_seconds:
            raise ValueError("SNP_NOTICE_CLOCK_OFFSET_SECONDS must stay 0 in production mode: it sends reminders "
                             "before their time")
        if self.env == "production" and self.webhook_allowed_hosts:
            raise ValueError("SNP_WEBHOOK_ALLOWED_HOSTS must stay empty in production mode")
        if self.env == "production" and len(self.jwt_secret) < 32 and self.oidc_jwks_url is None:
            raise ValueError("SNP_JWT_SECRET must be at least 32 characters in production mode")
        development_keys = DEV_KEY in self.identity_keys.values() or self.identity_hash_key == DEV_HASH_KEY
        if self.env == "production" and development_keys:
            raise ValueError("SNP_IDENTITY_KEYS / SNP_IDENTITY_HASH_KEY are still the development keys: refusing to "
                             "start in production mode (patient identity would be sealed with a public key)")
        if self.ptf_sas_fhir_url and self.hub_amqp_url and self.hub_samu_ids:
            # The guide's one sender of appointments to the SAMUs is the national platform (fr.health.ptfsas),
            # from what we declare to it: a SAMU told by both would get every appointment twice.
            raise ValueError("SNP_HUB_AMQP_URL with SNP_HUB_SAMU_IDS beside SNP_PTF_SAS_FHIR_URL: the national "
                             "platform already tells the SAMUs of every appointment declared to it; send to a SAMU "
                             "ourselves only where no platform is declared to (unset SNP_HUB_SAMU_IDS or "
                             "SNP_PTF_SAS_FHIR_URL; docs/interop.md)")
        if self.env == "production" and self.public_url is None:
            raise ValueError("SNP_PUBLIC_URL is required in production mode: the links the service writes "
                             "(FHIR, Location, booking pages) would name a development address")
        return self

    @property
    def base_url(self) -> str:
        """Where absolute URLs start: SNP_PUBLIC_URL, else the development address."""
        return self.public_url or DEV_PUBLIC_URL

    @property
    def proxy_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def link_secret(self) -> str:
        """The key of every signed link (SNP_LINK_SECRET, formerly SNP_SELF_REFERRAL_SECRET)."""
        return self.link_secret_key or self.self_referral_secret or self.jwt_secret


@lru_cache
def get_settings() -> Settings:
    return Settings()
