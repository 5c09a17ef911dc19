"""Who is calling: the admin key, brand API keys and member tokens, resolved to a Principal."""
