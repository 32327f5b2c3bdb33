"""Alerts: rules over scored events (pure), their Postgres outbox, and webhook delivery."""
