"""Activities (earning rules) as brands manage them: versioned storage and the live ruleset."""
