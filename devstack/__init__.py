"""The embedded local AWS and dev server behind `make dev` (never packaged into Lambda)."""
