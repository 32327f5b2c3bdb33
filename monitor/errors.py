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


class BadRecord(MonitorError):
    """A record's bytes cannot be decoded as what they claim to be (an unknown schema id, a
    truncated or undecodable payload, a record failing its schema): bad input, a dead letter.
    The message is the reason, written for a person."""


class RegistryUnavailable(MonitorError):
    """The Schema Registry did not answer (or answered with a server error): an outage, not bad
    input. The same records decode once it is back."""

    retriable = True


class DeadLetterTopicUnavailable(MonitorError):
    """The dead-letter topic did not acknowledge a send; the same records may be sent again."""

    retriable = True


class RepliesTopicUnavailable(MonitorError):
    """The replies topic did not acknowledge a send; the same replies may be sent again."""

    retriable = True
