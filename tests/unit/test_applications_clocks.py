"""The clock of every stage of a contract application, worked out by hand on the
production calendar (004 table 1: 1.2 answer in 5 days, 1.3 contract in 30 days for legal
entities / 10 working days for individuals, 1.4 refusal in 5 days, 1.9 meter conditions in
10 days; table 2: protocol of disagreements in 30 days; 003: post registered by the next
working day, a month without the requested documents ends consideration).

Calendar facts: 2026 — 1–11 January off (Decree No. 1466 moves 3 January to Friday 9
January), 23 February (Mon) and 8 March (Sun → Monday 9 March off), 9 May (Sat → Monday
11 May off), 12 June (Fri), 4 November (Wed); 31 December 2026 off (the decree moves 4
January there). 2027 — 1–8 January holidays, 9–10 a weekend.
"""

from datetime import date

from portal.models import ApplicationKind, Segment
from portal.services.applications import clocks as c
from portal.services.workdays import Calendar

PACKAGE = Calendar()
DEFAULTS = c.Clocks.defaults()


def test_1_3_individual_contract_10_working_days_across_the_new_year():
    # Complete on Thu 24 Dec 2026: 25 (1), 28 (2), 29 (3), 30 (4); 31 Dec–10 Jan off;
    # 11 (5), 12 (6), 13 (7), 14 (8), 15 (9), 18 (10): Monday 18 January 2027.
    due = c.contract_due(date(2026, 12, 24), Segment.HOUSEHOLD, DEFAULTS, PACKAGE)
    assert due == date(2027, 1, 18)


def test_1_3_legal_entity_contract_30_calendar_days_ending_in_the_holidays():
    # 2 Dec 2026 + 30 = Fri 1 Jan 2027, a holiday; 2–10 January off: Monday 11 January.
    assert c.contract_due(date(2026, 12, 2), Segment.LEGAL, DEFAULTS, PACKAGE) == date(2027, 1, 11)


def test_1_3_legal_entity_contract_on_a_working_day_stays_put():
    # 1 Oct 2026 + 30 = Saturday 31 October 2026 → Monday 2 November 2026.
    assert c.contract_due(date(2026, 10, 1), Segment.LEGAL, DEFAULTS, PACKAGE) == date(2026, 11, 2)


def test_1_2_first_answer_5_days_ending_on_the_moved_day_off():
    # Tue 3 Mar 2026 + 5 = Sun 8 March; Monday 9 March is the moved day off: Tue 10 March.
    due = c.first_answer_due(date(2026, 3, 3), ApplicationKind.CONTRACT, DEFAULTS, PACKAGE)
    assert due == date(2026, 3, 10)


def test_1_4_refusal_5_days_across_the_new_year_holidays():
    # Mon 28 Dec 2026 + 5 = Sat 2 Jan 2027; off until Sunday 10: Monday 11 January 2027.
    assert c.refusal_due(date(2026, 12, 28), DEFAULTS, PACKAGE) == date(2027, 1, 11)


def test_1_9_meter_conditions_10_days_ending_on_the_may_holiday():
    # Thu 30 Apr 2026 + 10 = Sun 10 May; Mon 11 May is off (9 May fell on a Saturday):
    # Tuesday 12 May 2026.
    due = c.first_answer_due(date(2026, 4, 30), ApplicationKind.METER_CONDITIONS, DEFAULTS, PACKAGE)
    assert due == date(2026, 5, 12)


def test_003_a_month_for_missing_documents_from_30_january_ends_on_2_march():
    # 30 Jan 2026 + 1 month: February has no 30th, so its last day, Saturday 28 February
    # (Civil Code art. 192); moved to Monday 2 March 2026 (art. 193).
    assert c.documents_wait_ends(date(2026, 1, 30), DEFAULTS, PACKAGE) == date(2026, 3, 2)


def test_003_a_month_ending_on_defender_of_the_fatherland_day():
    # 23 Jan 2026 + 1 month = Monday 23 February, a holiday: Tuesday 24 February 2026.
    assert c.documents_wait_ends(date(2026, 1, 23), DEFAULTS, PACKAGE) == date(2026, 2, 24)


def test_003_two_months_when_the_setting_says_two():
    two = c.Clocks(contract_days=DEFAULTS.contract_days, missing_documents_months=2)
    # 15 Oct 2026 + 2 months = Tuesday 15 December 2026, a working day.
    assert c.documents_wait_ends(date(2026, 10, 15), two, PACKAGE) == date(2026, 12, 15)


def test_003_post_is_registered_by_the_next_working_day():
    # Received Wed 30 Dec 2026: 31 Dec and 1–10 January are off: Monday 11 January 2027.
    assert c.post_registered_by(date(2026, 12, 30), PACKAGE) == date(2027, 1, 11)
    # Received Fri 6 Mar 2026: 7–8 weekend, 9 March off: Tuesday 10 March 2026.
    assert c.post_registered_by(date(2026, 3, 6), PACKAGE) == date(2026, 3, 10)
    # Received Tue 1 Dec 2026: Wednesday 2 December.
    assert c.post_registered_by(date(2026, 12, 1), PACKAGE) == date(2026, 12, 2)


def test_table_2_protocol_of_disagreements_30_days_ending_on_russia_day():
    # 13 May 2026 + 30 = Fri 12 June, Russia Day; 13–14 the weekend: Monday 15 June 2026.
    assert c.disagreement_due(date(2026, 5, 13), DEFAULTS, PACKAGE) == date(2026, 6, 15)


def test_complaint_30_days_ending_on_unity_day():
    # 5 Oct 2026 + 30 = Wed 4 November, National Unity Day: Thursday 5 November 2026.
    assert c.complaint_due(date(2026, 10, 5), DEFAULTS, PACKAGE) == date(2026, 11, 5)


def test_rework_answer_counts_from_the_day_documents_arrived():
    # Mon 11 Jan 2027 + 5 = Sat 16 January → Monday 18 January 2027.
    assert c.rework_due(date(2027, 1, 11), DEFAULTS, PACKAGE) == date(2027, 1, 18)


def test_an_administrators_regional_day_off_moves_the_term():
    # 1 Oct 2026 + 30 → Mon 2 Nov 2026; a regional day off on 2 November: Tuesday 3 November.
    regional = Calendar({date(2026, 11, 2): False})
    assert c.contract_due(date(2026, 10, 1), Segment.LEGAL, DEFAULTS, regional) == date(2026, 11, 3)


def test_an_individual_contract_in_calendar_days_when_the_setting_says_so():
    calendar_days = c.Clocks(contract_days={Segment.HOUSEHOLD: (10, False)})
    # Thu 24 Dec 2026 + 10 calendar days = Sun 3 Jan 2027 → Monday 11 January 2027.
    due = c.contract_due(date(2026, 12, 24), Segment.HOUSEHOLD, calendar_days, PACKAGE)
    assert due == date(2027, 1, 11)
