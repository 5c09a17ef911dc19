"""Powertools Logger, Tracer and Metrics: created once, installed once as Chalice middleware.

Service name, metrics namespace, log level and sampling come from the standard POWERTOOLS_*
variables (set per stage in `.chalice/config.json`). Code that logs takes ``logger`` from here
and adds domain keys with ``extra=`` (member_id, brand_id, event_id...).
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from chalice import ConvertToMiddleware

from chalicelib import config

logger = Logger(service=config.service_name())
metrics = Metrics(service=config.service_name(), namespace=config.metrics_namespace())

# Metrics.log_metrics warns on every invocation that emitted none (most API calls); the
# warning is noise, the flush itself is what matters.
warnings.filterwarnings("ignore", message="No application metrics to publish")

_tracer: Any = None
_tracer_lock = threading.Lock()


def tracer() -> Any:
    """The Powertools Tracer, or None when tracing is off.

    Built on first use: constructing a Tracer imports and patches the X-Ray SDK (~200 ms),
    which a container with tracing off should never pay and one with tracing on pays once,
    at its first invocation rather than at import.
    """
    global _tracer
    if _tracer is None and config.tracing_enabled():
        with _tracer_lock:
            if _tracer is None:
                from aws_lambda_powertools import Tracer

                _tracer = Tracer(service=config.service_name())
    return _tracer


def _trace(event: Any, get_response: Callable) -> Any:
    active = tracer()
    if active is None:
        return get_response(event)
    return ConvertToMiddleware(active.capture_lambda_handler)(event, get_response)


def install(app) -> None:
    """Register logging, tracing and metrics middleware on the app (before any handler)."""
    app.register_middleware(ConvertToMiddleware(functools.partial(
        logger.inject_lambda_context,
        correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)), "http")
    for event_type in ("sqs", "scheduled"):
        app.register_middleware(ConvertToMiddleware(functools.partial(
            logger.inject_lambda_context, clear_state=True)), event_type)
    app.register_middleware(_trace, "all")
    app.register_middleware(ConvertToMiddleware(functools.partial(
        metrics.log_metrics, capture_cold_start_metric=True)), "all")
