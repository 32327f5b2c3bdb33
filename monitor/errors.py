"""One exception root; callers branch on the class or its `retriable` flag, never on message text."""


class MonitorError(Exception):
    """Root of every error monitor raises on purpose."""

    retriable: bool = False


class ConfigError(MonitorError):
    """Configuration that cannot work: a bad value, a placeholder secret, an unreadable file."""


class ModelError(MonitorError):
    """The model artifact is missing or does not fit the encoder."""


class StoreUnavailable(MonitorError):
    """Postgres did not answer; the same write is safe to try again."""

    retriable = True


class StoreDiverged(StoreUnavailable):
    """The database holds older offsets than this replica wrote to it: it lost transactions (a
    failover to a standby that lagged). Nothing was committed; read its offsets and seek there."""


class RowsRejected(MonitorError):
    """Postgres refused the data itself (a data or limit error): retrying the same rows cannot help."""


class CommitFailed(MonitorError):
    """Kafka refused an offset commit (a rebalance, a lost coordinator): the records will be
    replayed by whoever owns the partitions, and their natural keys make that replay harmless."""

    retriable = True
