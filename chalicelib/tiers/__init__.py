"""Tiers (levels): qualification by points earned in a window, upgrades, reviewed downgrades."""
