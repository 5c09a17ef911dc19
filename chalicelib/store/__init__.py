"""DynamoDB tables: every pynamodb model, and the registry the local stack and infra read."""
