"""intent probabilities on scored events, evidence details on alerts, one spelling per intent

`scored_events.intent_probabilities` keeps the likeliest intents of a customer message with their
calibrated probabilities, so rules over a set of intents (fraud_intent) and analysts can sum them.
`alerts.evidence_details` says why each piece of evidence counted. Banking77 spelt one intent
`Refund_not_showing_up`; stored rows move to the spelling the model now gives, so counts per intent
do not split in two.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("scored_events", sa.Column("intent_probabilities", JSONB, nullable=True))
    op.add_column(
        "alerts",
        sa.Column("evidence_details", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    op.execute("UPDATE scored_events SET intent = lower(intent) WHERE intent = 'Refund_not_showing_up'")


def downgrade() -> None:
    op.drop_column("alerts", "evidence_details")
    op.drop_column("scored_events", "intent_probabilities")
