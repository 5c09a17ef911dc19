"""Analytics: per-brand daily aggregates (events by channel, points issued and redeemed, top
activities), counted exactly once from the notifications queue."""
