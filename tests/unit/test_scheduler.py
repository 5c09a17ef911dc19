"""Schedule expressions fire when EventBridge would fire them."""

from datetime import UTC, datetime

import pytest

from devstack.scheduler import aws_cron_to_standard, next_fire, rate_seconds


@pytest.mark.parametrize(("expression", "seconds"), [
    ("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600),
    ("rate(2 hours)", 7200), ("rate(1 day)", 86400), ("cron(0 3 * * ? *)", None),
])
def test_rate_expressions(expression, seconds):
    assert rate_seconds(expression) == seconds


@pytest.mark.parametrize(("aws", "standard"), [
    ("cron(0 3 * * ? *)", "0 3 * * *"),
    ("cron(15 10 ? * 2-6 *)", "15 10 * * 1-5"),       # AWS MON-FRI are 2-6
    ("cron(0 8 ? * MON#1 *)", "0 8 * * MON#1"),
    ("cron(0 8 ? * 6#3 *)", "0 8 * * 5#3"),            # the occurrence after # is kept
    ("cron(0 0 1 * ? 2027)", "0 0 1 * *"),
])
def test_eventbridge_cron_converts_to_five_fields(aws, standard):
    assert aws_cron_to_standard(aws) == standard


def test_next_fire_for_rates_honours_the_speedup():
    start = datetime(2026, 1, 1, tzinfo=UTC)

    assert (next_fire("rate(1 minute)", start) - start).total_seconds() == 60
    assert (next_fire("rate(1 minute)", start, speedup=60) - start).total_seconds() == 1


def test_next_fire_for_cron():
    start = datetime(2026, 1, 1, 4, 0, tzinfo=UTC)  # a Thursday

    assert next_fire("cron(0 3 * * ? *)", start) == datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
    assert next_fire("cron(0 9 ? * 2 *)", start) == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_invalid_cron_is_refused():
    with pytest.raises(ValueError, match="6 fields"):
        aws_cron_to_standard("cron(0 3 * * ?)")
