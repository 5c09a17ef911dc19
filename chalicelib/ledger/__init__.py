"""The points ledger: double-entry, append-only, exactly-once. Pure model + stores."""
