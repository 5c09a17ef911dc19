"""Punchcard: the loyalty platform's application code (packaged into every Lambda)."""
