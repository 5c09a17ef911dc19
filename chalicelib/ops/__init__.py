"""Operational self-checks: schedule heartbeats and queue canaries."""
