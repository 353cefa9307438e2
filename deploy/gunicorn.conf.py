"""gunicorn for the web process: `gunicorn -c deploy/gunicorn.conf.py config.wsgi`.

Behind a reverse proxy on the same machine that terminates HTTPS and sets X-Forwarded-Proto.
WEB_BIND and WEB_CONCURRENCY (processes) come from the environment file.
"""

import multiprocessing
import os

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", str(multiprocessing.cpu_count() * 2 + 1)))
worker_class = "sync"
# long requests (a page import of a roster, a PDF) stay under this; longer work runs as a job
timeout = int(os.environ.get("WEB_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
# a worker is replaced after this many requests, so a slow leak cannot grow without bound
max_requests = 2000
max_requests_jitter = 200
# X-Forwarded-Proto is believed from the proxy on this machine only
forwarded_allow_ips = os.environ.get("WEB_FORWARDED_ALLOW_IPS", "127.0.0.1")
# the access log keeps the address and the path, never the query string (ballot codes, searches)
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
