"""The Chalice app: creates it and registers middleware, blueprints and event handlers."""

import functools

from chalice import Chalice

from chalicelib import bootstrap, config, observability
from chalicelib.api import blueprints
from chalicelib.api.http import guard_requests
from chalicelib.handlers import consumers, events, jobs, schedules
from chalicelib.resources import EVENTS, JOBS

app = Chalice(app_name=config.APP_NAME)

# Middleware first: Chalice attaches to each event handler the middleware registered before
# it. The error guard goes outermost so that even a failing middleware answers in our shape.
app.register_middleware(guard_requests, "http")
observability.install(app)

for blueprint in blueprints():
    app.register_blueprint(blueprint)

# Lambda imports this module and calls these names (handler "app.<name>"), so event handlers
# are registered here rather than in blueprints, whose handlers Lambda would call without
# the app's middleware.
process_jobs = app.on_sqs_message(queue=JOBS.name, batch_size=JOBS.batch_size)(jobs.process_jobs)
heartbeat = app.schedule(schedules.HEARTBEAT_RATE)(schedules.heartbeat)
expire_points = app.schedule(schedules.EXPIRY_SCHEDULE)(schedules.expire_points)
process_events = app.on_sqs_message(queue=EVENTS.name, batch_size=EVENTS.batch_size)(events.process_events)
# One function per consumer of domain events, each on its own queue (chalicelib.resources.CONSUMERS):
# consume_leaderboard, consume_analytics, consume_tiers...
for _spec in bootstrap.consumer_specs():
    globals()[_spec.handler] = app.on_sqs_message(queue=_spec.queue.name, batch_size=_spec.batch_size,
                                                  maximum_batching_window_in_seconds=_spec.batching_window)(
        consumers.handler(_spec, functools.partial(bootstrap.consumer, _spec.name)))
sweep_events = app.schedule(schedules.SWEEP_RATE)(events.sweep_events)
sweep_redemptions = app.schedule(schedules.SWEEP_RATE)(schedules.sweep_redemptions)
review_tiers = app.schedule(schedules.TIER_REVIEW_SCHEDULE)(schedules.review_tiers)
