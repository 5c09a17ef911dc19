"""The security headers on every response of the web app and the API: one definition, two stacks.

The cloud's CloudFront response-headers policy (``infra/stack.py``) is built from these values
and the local gateway sends them as they are, so a page the cloud's CSP would break breaks
under ``make dev`` first. The apps load only their own ES modules, stylesheet and
``vendor/chart.umd.min.js`` and call the API on their own origin: nothing else is allowed.
"""

from __future__ import annotations

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",  # Chart.js exports and the browser's own form icons
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
FRAME_OPTION = "DENY"
REFERRER_POLICY = "strict-origin-when-cross-origin"
HSTS_MAX_AGE_SECONDS = 365 * 24 * 3600  # browsers ignore it over plain http (make dev)
XSS_PROTECTION = "1; mode=block"

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Strict-Transport-Security": f"max-age={HSTS_MAX_AGE_SECONDS}",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": FRAME_OPTION,
    "Referrer-Policy": REFERRER_POLICY,
    "X-XSS-Protection": XSS_PROTECTION,
}
