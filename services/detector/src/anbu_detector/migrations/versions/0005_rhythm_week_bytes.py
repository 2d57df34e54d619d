"""channel clocks keep their learned week as bytes

A learned week (domain/rhythm.py) was stored as its 42 counts comma-separated; a restart
parsed 42 integers a clock back out of that text (a sixth of a partition load, py-spy).
Now it is the counters' own 84 bytes (42 unsigned 16-bit little-endian), read straight
into the array. Rows written before are converted here, in chunks, and back on downgrade.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 20:20:00
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BLOCKS = 42
CHUNK = 10_000

_clocks = sa.table(
    "channel_clock",
    sa.column("household_id", sa.String),
    sa.column("channel", sa.String),
    sa.column("rhythm_hits", sa.String),
    sa.column("rhythm_week", sa.LargeBinary),
)


def _to_bytes(text: str) -> bytes | None:
    counts = text.split(",")
    if len(counts) != BLOCKS:
        return None  # not a week: read as none before too (the cold-start default)
    return b"".join(int(n).to_bytes(2, "little") for n in counts)


def _to_text(week: bytes) -> str | None:
    if len(week) != 2 * BLOCKS:
        return None
    return ",".join(str(int.from_bytes(week[i : i + 2], "little")) for i in range(0, len(week), 2))


def _convert(source: str, target: str, convert: Callable[[Any], Any]) -> None:
    """Every clock's learned week from one column into the other, a chunk at a time in key
    order (a million clocks never sit in memory at once)."""
    bind = op.get_bind()
    source_column = _clocks.c[source]
    update = (
        _clocks.update()
        .where(_clocks.c.household_id == sa.bindparam("h"), _clocks.c.channel == sa.bindparam("c"))
        .values({target: sa.bindparam("v")})
    )
    after = ("", "")
    while True:
        rows = bind.execute(
            sa.select(_clocks.c.household_id, _clocks.c.channel, source_column)
            .where(
                source_column.is_not(None),
                sa.tuple_(_clocks.c.household_id, _clocks.c.channel) > sa.tuple_(*after),
            )
            .order_by(_clocks.c.household_id, _clocks.c.channel)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        bind.execute(update, [{"h": h, "c": c, "v": convert(value)} for h, c, value in rows])
        after = (rows[-1][0], rows[-1][1])


def upgrade() -> None:
    with op.batch_alter_table("channel_clock", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rhythm_week", sa.LargeBinary(), nullable=True))
    _convert("rhythm_hits", "rhythm_week", _to_bytes)
    with op.batch_alter_table("channel_clock", schema=None) as batch_op:
        batch_op.drop_column("rhythm_hits")


def downgrade() -> None:
    with op.batch_alter_table("channel_clock", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rhythm_hits", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True)
        )
    _convert("rhythm_week", "rhythm_hits", lambda week: _to_text(bytes(week)))
    with op.batch_alter_table("channel_clock", schema=None) as batch_op:
        batch_op.drop_column("rhythm_week")
