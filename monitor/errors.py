"""One exception root; callers branch on `retriable`, never on message text."""


class MonitorError(Exception):
    """Root of every error monitor raises on purpose."""

    retriable: bool = False


class ConfigError(MonitorError):
    """Configuration that cannot work: a bad value, a placeholder secret, an unreadable file."""


class InvalidMessage(MonitorError):
    """A record that can never be scored; it becomes a dead letter with `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ModelError(MonitorError):
    """The model artifact is missing or does not fit the encoder."""


class StoreUnavailable(MonitorError):
    """Postgres did not answer; the same write is safe to try again."""

    retriable = True


class RowsRejected(MonitorError):
    """Postgres refused the data itself (a data or limit error): retrying the same rows cannot help."""
