"""billing to the letter: estimates per meter zone, recalculations by reading

Revision ID: d3c4e5f6a733
Revises: c2b3d4e5f622
Create Date: 2026-12-02 00:50:00

"""
from alembic import op
import sqlalchemy as sa

import portal.models.base


# revision identifiers, used by Alembic.
revision = 'd3c4e5f6a733'
down_revision = 'c2b3d4e5f622'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('penalty_schemes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=12), nullable=False),
    sa.Column('service', sa.String(length=20), nullable=True),
    sa.Column('stages', sa.JSON(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_penalty_schemes_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_penalty_schemes'))
    )
    with op.batch_alter_table('penalty_schemes', schema=None) as batch_op:
        batch_op.create_index('ix_penalty_schemes_lookup', ['category', 'service', 'valid_from'], unique=False)
    op.create_table('key_rate_caps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=False),
    sa.Column('percent', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_key_rate_caps_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_key_rate_caps'))
    )
    op.create_table('estimated_volumes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('meter_id', sa.Integer(), nullable=False),
    sa.Column('service', sa.String(length=20), nullable=False),
    sa.Column('zone', sa.String(length=12), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('method', sa.String(length=14), nullable=False),
    sa.Column('volume', sa.Numeric(precision=16, scale=4), nullable=False),
    sa.Column('basis', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('settled_in', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_estimated_volumes_account_id_accounts')),
    sa.ForeignKeyConstraint(['meter_id'], ['meters.id'], name=op.f('fk_estimated_volumes_meter_id_meters')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_estimated_volumes'))
    )
    with op.batch_alter_table('estimated_volumes', schema=None) as batch_op:
        batch_op.create_index('ix_estimated_volumes_meter_open', ['meter_id', 'settled_in'], unique=False)
        batch_op.create_index('ix_estimated_volumes_period_account', ['period', 'account_id'], unique=False)

    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('estimated_from', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('estimated_to', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('read_on', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.drop_column('read_on')
        batch_op.drop_column('estimated_to')
        batch_op.drop_column('estimated_from')

    with op.batch_alter_table('estimated_volumes', schema=None) as batch_op:
        batch_op.drop_index('ix_estimated_volumes_period_account')
        batch_op.drop_index('ix_estimated_volumes_meter_open')

    op.drop_table('estimated_volumes')
    op.drop_table('key_rate_caps')
    with op.batch_alter_table('penalty_schemes', schema=None) as batch_op:
        batch_op.drop_index('ix_penalty_schemes_lookup')
    op.drop_table('penalty_schemes')
