"""Bridgework's data: models, migrations, schemas, queries and content."""
