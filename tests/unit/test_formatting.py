"""Template filters: how values read to a person."""

from datetime import UTC, date, datetime

from flask_babel import force_locale

from portal.formatting import as_date, as_datetime


def test_a_moment_is_shown_on_its_day_in_the_supplier_zone(app):
    """22:30 UTC on 31 December is 01:30 on 1 January in Moscow: the day shown is the
    one a person in the supplier's zone lived it on, as the time next to it says."""
    moment = datetime(2026, 12, 31, 22, 30, tzinfo=UTC)
    with app.test_request_context(), force_locale("en"):
        assert as_date(moment) == as_date(date(2027, 1, 1)) == "Jan 1, 2027"
        assert as_datetime(moment).startswith("1/1/27")
        assert as_date(datetime(2026, 12, 31, 20, 59, tzinfo=UTC)) == "Dec 31, 2026"
        assert as_date(None) == "—"
