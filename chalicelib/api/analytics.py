"""Analytics for a brand's dashboard: points issued and redeemed per day, events per channel,
top activities."""

from __future__ import annotations

from datetime import UTC, datetime

from chalice import Blueprint

from chalicelib import bootstrap, errors
from chalicelib.api.http import query, route

bp = Blueprint(__name__)

DEFAULT_DAYS = 30


@route(bp, "/v1/analytics/daily", roles=("brand",))
def daily(principal):
    raw = query(bp.current_request, "days").get("days", str(DEFAULT_DAYS))
    service = bootstrap.analytics()
    if not raw.isdigit() or not 1 <= int(raw) <= service.MAX_DAYS:
        raise errors.BadRequest(f"days is 1 to {service.MAX_DAYS}.", code="invalid_parameter",
                                details={"parameter": "days"})
    return service.daily(principal.brand_id, int(raw), service.today(datetime.now(UTC)))
