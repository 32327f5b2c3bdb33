"""alert reasons: explanations of the events behind alerts, and notifications that wait for them

`event_explanations` holds each evidence event's word attributions (computed once per event and
model version, by the service's explainer, only for events that raise or update an alert): the
strongest words behind its sentiment and, for customer messages, behind its intent.

`alert_notifications.explained_at` says a notification is ready to send: NULL while the explainer
has still to add its evidence's reasons (the dispatcher claims only ready ones); `explaining_until`
is the lease of the replica explaining it. Notifications written before this migration are ready.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 10:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_explanations",
        # scored_events is partitioned by event_time (its key is (id, event_time)), so no foreign
        # key: the partition upkeep's retention deletes rows computed before its cutoff.
        sa.Column("event_id", sa.BigInteger, primary_key=True),
        sa.Column("model_version", sa.Text, nullable=False),
        sa.Column("sentiment", JSONB),
        sa.Column("intent", JSONB),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_event_explanations_created_at", "event_explanations", ["created_at"])
    # now() is stable, so the default fills existing rows without rewriting the table: every
    # notification written before this migration is ready.
    op.add_column(
        "alert_notifications",
        sa.Column("explained_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.add_column("alert_notifications", sa.Column("explaining_until", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_alert_notifications_unexplained",
        "alert_notifications",
        ["created_at"],
        postgresql_where=sa.text("explained_at IS NULL"),
    )
    op.execute("GRANT SELECT ON event_explanations TO monitor_analyst")  # role of migration 0003


def downgrade() -> None:
    op.drop_index("ix_alert_notifications_unexplained", table_name="alert_notifications")
    op.drop_column("alert_notifications", "explaining_until")
    op.drop_column("alert_notifications", "explained_at")
    op.drop_index("ix_event_explanations_created_at", table_name="event_explanations")
    op.drop_table("event_explanations")
