"""Members: one profile per program, enrolled per brand; self-service and privacy."""
