"""Brands and their API keys: onboarding, rotation, revocation, authentication."""
