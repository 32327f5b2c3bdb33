"""Postgres: the schema, migrations and the batch writer. The only package that imports SQLAlchemy."""
