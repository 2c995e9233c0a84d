"""Settings, read only from the environment (see `.env.example` for every variable).

Two modes, chosen by what the environment provides:

* **embedded** (no `DATABASE_URL` / `REDIS_URL`): SQLite file in the project, in-process channel
  layer, background tasks and the periodic sweep in a thread of the server process. This is what
  `make run` starts.
* **service**: PostgreSQL, Redis (channel layer, cache, Celery broker), separate Celery worker and
  beat processes. This is what `docker-compose.yml` and the test suite use.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A `.env` file beside manage.py is read if present; real environment variables win.
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise environ.ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false.")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- behind a reverse proxy (docs/operations.md has the nginx example) ----------------------
# Forwarded headers are believed only when the operator says a proxy sets them: a server that
# can be reached directly would otherwise take any client's word for its scheme or address.
# With TLS terminated at the proxy, X-Forwarded-Proto makes request.is_secure() true, so links
# in password-reset mails are https:// and CSRF accepts the https page's Origin. The proxy
# passes the client's Host header through (ALLOWED_HOSTS checks it), so X-Forwarded-Host is
# never read (USE_X_FORWARDED_HOST stays False).
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
# Proxies in front of the server that append to X-Forwarded-For (DRF's NUM_PROXIES, used below
# to find the client address that throttling counts): 0 ignores the header entirely.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)

EMBEDDED_DATABASE = "DATABASE_URL" not in env
EMBEDDED_BROKER = "REDIS_URL" not in env
REDIS_URL = env.str("REDIS_URL", default="")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "corsheaders",
    "oauth2_provider",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "asi_api",
    "users",
    "devices",
    "activities",
    "timeframes",
    "analytics",
    "streaming",
    "webhooks",
]

MIDDLEWARE = [
    "asi_api.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "asi_api.middleware.QueryNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "asi_api.middleware.JsonApiErrorsMiddleware",
]

ROOT_URLCONF = "asi_api.urls"
# SPEC §1: a path without its trailing slash is a 404, never a redirect.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "asi_api.asgi.application"

# --- database -------------------------------------------------------------------------------
if EMBEDDED_DATABASE:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("SQLITE_PATH", default=str(BASE_DIR / "db.sqlite3")),
            # IMMEDIATE takes the write lock at BEGIN, so the service-level checks that stand in
            # for PostgreSQL's constraints (one ongoing ownership, no overlap) cannot interleave.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }
else:
    DATABASES = {"default": env.db("DATABASE_URL")}
    # Under ASGI every HTTP request runs its sync code in a thread of its own (Django enters a
    # fresh asgiref ThreadSensitiveContext per request), and connections are per thread: with
    # CONN_MAX_AGE > 0 each finished request leaves an idle connection behind until garbage
    # collection, and bursts exhaust max_connections. So the web process closes its connection
    # at the end of each request; pooling belongs to PgBouncer (docs/operations.md). Celery
    # workers, one thread per process, may keep theirs (CONN_MAX_AGE in their environment).
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # PgBouncer in transaction-pooling mode cannot keep a server-side cursor across statements.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
        "DB_DISABLE_SERVER_SIDE_CURSORS", default=False
    )
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "users.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# --- cache, channel layer, tasks ------------------------------------------------------------
# Channel layer (SPEC §8, docs/websockets.md "Channel layer"): `capacity` messages may wait per
# consumer channel before the layer drops the *newest* (the stream consumers drain theirs at once
# into their own bounded send queue, so it only absorbs bursts); a message not received within
# `expiry` seconds is stale for a live stream and dropped; a group member not refreshed within
# `group_expiry` is forgotten, and the consumers re-join every tenth of it (at most hourly).
CHANNEL_CAPACITY = env.int("CHANNEL_CAPACITY", default=1000)
CHANNEL_EXPIRY = 60
CHANNEL_GROUP_EXPIRY = env.int("CHANNEL_GROUP_EXPIRY", default=86400)
CHANNEL_REDIS_MAX_CONNECTIONS = env.int("CHANNEL_REDIS_MAX_CONNECTIONS", default=100)
if EMBEDDED_BROKER:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {
                "capacity": CHANNEL_CAPACITY,
                "expiry": CHANNEL_EXPIRY,
                "group_expiry": CHANNEL_GROUP_EXPIRY,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "asi",
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis, reading a batch of messages per round trip and waiting for a
            # free pooled connection instead of failing (streaming/layers.py).
            "BACKEND": "streaming.layers.BatchedRedisChannelLayer",
            "CONFIG": {
                # redis-py ≥ 8 reads with a 5 s socket timeout by default, exactly as long as
                # channels-redis's blocking pop (BZPOPMIN, 5 s): every consumer idle for 5 s
                # would die with "Timeout reading". Reads may take up to 15 s here.
                # max_connections: per daphne process (and event loop); a burst beyond it
                # (1,000 sockets closing at once) waits up to pool_timeout seconds for one.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": 15,
                        "max_connections": CHANNEL_REDIS_MAX_CONNECTIONS,
                        "pool_timeout": 20,
                    }
                ],
                "receive_batch": 100,
                "capacity": CHANNEL_CAPACITY,
                "expiry": CHANNEL_EXPIRY,
                "group_expiry": CHANNEL_GROUP_EXPIRY,
                "prefix": "asi",
            },
        }
    }

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = "UTC"
# The periodic jobs (asi_api.scheduling) are run by beat in service mode and by the embedded
# runner thread otherwise; the schedule is built from the same registry in asi_api/celery.py.
SWEEP_INTERVAL_SECONDS = env.float("SWEEP_INTERVAL_SECONDS", default=5.0)
# Embedded mode: whether the runner thread also runs the periodic jobs (the test suite turns
# them off in its own process, where they would sweep other tests' rows).
EMBEDDED_PERIODIC_JOBS = env.bool("EMBEDDED_PERIODIC_JOBS", default=True)

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "oauth2_provider.contrib.rest_framework.OAuth2Authentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "asi_api.permissions.TokenHasRequiredScopes",
        "rest_framework.permissions.IsAuthenticated",
    ],
    "DEFAULT_PAGINATION_CLASS": "asi_api.pagination.PageNumberPagination",
    "PAGE_SIZE": 150,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "asi_api.filters.SearchFilter",
        "asi_api.filters.OrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "asi_api.throttles.AnonRateThrottle",
        "asi_api.throttles.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="60/min"),
        "user": env.str("THROTTLE_USER", default="3000/min"),
        "ingest": env.str("THROTTLE_INGEST", default="30000/min"),
    },
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # Strict JSON only (no NUL, no lone surrogate, bounded depth): see asi_api/parsers.py.
    "DEFAULT_PARSER_CLASSES": ["asi_api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "asi_api.exceptions.exception_handler",
    # Documents the error responses of every operation in one place (SPEC §1 shapes).
    "DEFAULT_SCHEMA_CLASS": "asi_api.schema.AutoSchema",
    "DATETIME_FORMAT": "iso-8601",
    "DATETIME_INPUT_FORMATS": ["iso-8601"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "ASI API",
    "DESCRIPTION": "Athlete-wearable data: devices, activities, timeframes, analytics, streams.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page's "Authorize" button gets tokens from our own OAuth endpoints.
    "OAUTH2_FLOWS": ["authorizationCode", "password"],
    "OAUTH2_AUTHORIZATION_URL": "/oauth2/authorize/",
    "OAUTH2_TOKEN_URL": "/oauth2/token/",
    "OAUTH2_REFRESH_URL": "/oauth2/token/",
    "OAUTH2_SCOPES": None,
}

# SPEC §1 body limits, checked from Content-Length before anything reads the body.
BODY_LIMIT_BYTES = env.int("BODY_LIMIT_BYTES", default=2 * 1024 * 1024)
INGEST_BODY_LIMIT_BYTES = env.int("INGEST_BODY_LIMIT_BYTES", default=5 * 1024 * 1024)
INGEST_PATH = "/api/v1/preprocessed-data/"
# Device samples (devices/samples.py): monthly partitions kept created this many months ahead by
# the periodic job devices.jobs.sample_partitions_ensure (hourly).
SAMPLES_PARTITIONS_AHEAD = env.int("SAMPLES_PARTITIONS_AHEAD", default=2)
DATA_UPLOAD_MAX_MEMORY_SIZE = INGEST_BODY_LIMIT_BYTES

# --- OAuth2 (django-oauth-toolkit) ----------------------------------------------------------
# DOT's own models are used as they are (not swapped): one grant type per Application is what
# SPEC §2 asks, and the per-application rules (scopes, PKCE, password only for confidential
# clients) live in users/oauth.py, where they apply to every way an application is created.
OAUTH2_PROVIDER = {
    "SCOPES": {"all": "Every AMS endpoint", "ingest": "Device data ingestion (gateways)"},
    "DEFAULT_SCOPES": ["all"],
    "SCOPES_BACKEND_CLASS": "users.oauth.ApplicationScopes",
    "OAUTH2_VALIDATOR_CLASS": "users.oauth.Validator",
    # Only the grants SPEC §2 offers; RFC 6749 JSON error bodies; bearer tokens only in a header.
    "OAUTH2_SERVER_CLASS": "users.oauth.Server",
    "OAUTH2_BACKEND_CLASS": "users.oauth.OAuthLibCore",
    "ACCESS_TOKEN_EXPIRE_SECONDS": 36000,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 30 * 24 * 3600,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "ALLOWED_REDIRECT_URI_SCHEMES": env.list("OAUTH_REDIRECT_SCHEMES", default=["http", "https"]),
    # Schemes accepted in an application's allowed origins (CORS); http for local development.
    "ALLOWED_SCHEMES": env.list("OAUTH_REDIRECT_SCHEMES", default=["http", "https"]),
    "CLEAR_EXPIRED_TOKENS_BATCH_SIZE": 10000,
    # RFC 9700 gates: no implicit grant, S256 only. The password grant stays (SPEC §2 keeps it
    # for legacy confidential clients), so its deprecation warning is expected in the log.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
}
# Resource servers that may introspect any token; any other client only its own tokens (and
# `{"active": false}` for the rest). Comma-separated client ids.
OAUTH_INTROSPECTION_CLIENT_IDS = env.list("OAUTH_INTROSPECTION_CLIENT_IDS", default=[])
# Lifetime of the live page's access tokens (users/page_token.py, docs/pages.md): minutes, so a
# token copied out of a page is worth little; the page renews it at 60 %.
PAGE_TOKEN_SECONDS = env.int("PAGE_TOKEN_SECONDS", default=600)

# Brute-force protection of password logins (login page, password grant, admin login): failures
# per fixed window, counted in the cache. The policy is explained in users/login_throttle.py.
AUTHENTICATION_BACKENDS = ["users.login_throttle.ThrottledModelBackend"]
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=300)
LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS = env.int(
    "LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS", default=5
)
LOGIN_FAILURES_PER_ADDRESS = env.int("LOGIN_FAILURES_PER_ADDRESS", default=20)
LOGIN_FAILURES_PER_USERNAME = env.int("LOGIN_FAILURES_PER_USERNAME", default=50)

# CORS for the REST API: an origin is allowed when an OAuth application lists it in its
# allowed origins (users.oauth.cors_origin_allowed, connected in users.apps).
CORS_URLS_REGEX = r"^/(api|oauth2)/.*$"
CORS_ALLOW_HEADERS = ["authorization", "content-type", "accept"]

# --- web hooks, e-mail ----------------------------------------------------------------------
WEBHOOKS_ALLOW_PRIVATE_URLS = env.bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=False)
# How long a webhook delivery attempt holds its row (more than the 10 s request deadline): a
# worker that dies mid-request leaves the row to the sweep once this has passed.
WEBHOOKS_DELIVERY_LEASE_SECONDS = env.int("WEBHOOKS_DELIVERY_LEASE_SECONDS", default=60)
if "EMAIL_URL" in env:
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ASI API <no-reply@localhost>")

# --- i18n, static ---------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Embedded mode serves static files straight from the apps (no collectstatic step needed).
WHITENOISE_USE_FINDERS = EMBEDDED_DATABASE or DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

SESSION_COOKIE_AGE = int(timedelta(days=14).total_seconds())
