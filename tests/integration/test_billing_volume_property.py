"""Property (ПП 354 п. 59–61): whatever months are missed and whenever the meter is
replaced, the volume charged over the run of periods — by meter, by estimate (average or
norm) and by the recalculations that take the estimates back — is the real consumption
between the first and the last real reading: never more, never less."""

from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal.models import Charge, ConsumptionNorm, Reading, Tariff
from portal.services import billing
from portal.services.months import add_months
from tests import factories

START = date(2025, 1, 1)

# Each month after the first reading: a consumption read that month, or None (no reading).
months_of = st.lists(
    st.one_of(st.none(), st.integers(min_value=0, max_value=900)), min_size=1, max_size=9
)


@st.composite
def histories(draw):
    """Months after the first reading, ending with a real reading, and maybe the month
    (index) in which the meter is replaced (final and initial readings that day)."""
    months = draw(months_of)
    last = draw(st.integers(min_value=0, max_value=900))
    months = [*months, last]
    replaced = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=len(months) - 2)))
    return months, replaced


def read(session, meter, period, value, consumption):
    session.add(
        Reading(
            meter_id=meter.id,
            zone="total",
            period=period,
            taken_on=period.replace(day=20),
            value=Decimal(value),
            consumption=None if consumption is None else Decimal(consumption),
            source="customer",
            status="accepted",
        )
    )
    session.flush()


def _priced(session):
    if session.scalar(select(func.count(Tariff.id))):
        return
    session.add_all(
        [
            Tariff(
                service="electricity",
                zone="total",
                category="population",
                rate=Decimal("5.50"),
                valid_from=date(2020, 1, 1),
            ),
            ConsumptionNorm(
                service="electricity",
                basis="per_resident",
                volume=Decimal("100"),
                valid_from=date(2020, 1, 1),
            ),
        ]
    )
    session.flush()


def _month_by_month(session, account, months, replaced) -> tuple[Decimal, list[date]]:
    """The meter's readings month by month, each month charged after its readings came (and
    after the meter was replaced, if it was that month); returns the real consumption the
    readings add up to and the periods charged."""
    meter = factories.make_meter(session, account, zones=1)
    value, real, periods = 1000, 0, []
    read(session, meter, START, value, None)  # the first real reading
    for index, consumption in enumerate(months):
        period = add_months(START, index + 1)
        if index == replaced:
            # The old meter's final reading (this month's consumption, if any), the new
            # meter's initial one, on the same day.
            value += consumption or 0
            real += consumption or 0
            read(session, meter, period, value, consumption or 0)
            meter.status = "removed"
            meter = factories.make_meter(session, account, zones=1, serial_number=f"N{meter.id}")
            value = 5000
            read(session, meter, period, value, None)
        elif consumption is not None:
            value += consumption
            real += consumption
            read(session, meter, period, value, consumption)
        billing.run(session, period)
        periods.append(period)
    return Decimal(real), periods


@hypothesis_settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(histories())
def test_the_volume_charged_is_the_real_consumption(db_session, history):
    months, replaced = history
    _priced(db_session)
    account = factories.make_account(db_session)
    real, periods = _month_by_month(db_session, account, months, replaced)
    charged = db_session.scalar(
        select(func.coalesce(func.sum(Charge.volume), 0)).where(
            Charge.account_id == account.id, Charge.period.in_(periods)
        )
    )
    assert Decimal(str(charged)).quantize(Decimal("0.0001")) == real.quantize(Decimal("0.0001"))
