"""monitor: score financial news and customer messages from Kafka into Postgres, and alert on them."""

__version__ = "0.1.0"
