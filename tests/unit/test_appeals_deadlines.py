"""Due dates of appeals, worked out by hand from the production calendar.

Rules: 002 §15.4 (30 calendar days), 004 (15 calendar days, one extension of up to 15
after an interim answer, never over 30; voicemail 5 working days with a phone, 20 with an
address), Civil Code art. 193 (a term ending on a non-working day ends on the next
working day). Calendar facts: 2026 — Decree No. 1466 moves 4 January (Sun) to Thursday
31 December 2026; 8 March 2026 is a Sunday, so Monday 9 March is a day off (Labour Code
art. 112 part 2). 2027 — 1–8 January are holidays, 9–10 January a weekend.
"""

from datetime import date

from portal.services.appeals.deadlines import days_between, due_date, internal_target
from portal.services.workdays import Calendar

PACKAGE = Calendar()


def test_30_calendar_days_ending_in_the_new_year_holidays_end_on_11_january():
    # 2 Dec 2026 + 30 days = Friday 1 January 2027, a holiday; 2–8 January holidays,
    # 9–10 the weekend: Monday 11 January 2027.
    assert due_date(date(2026, 12, 2), 30, False, PACKAGE) == date(2027, 1, 11)


def test_15_calendar_days_on_a_working_day_stay_put():
    # 2 Dec 2026 + 15 = Thursday 17 December 2026, a working day.
    assert due_date(date(2026, 12, 2), 15, False, PACKAGE) == date(2026, 12, 17)


def test_15_plus_15_days_after_an_interim_answer_end_after_the_holidays():
    # 004: 15 + 15 = 30 days from 2 Dec 2026 → 1 Jan 2027 → Monday 11 January 2027.
    assert due_date(date(2026, 12, 2), 15 + 15, False, PACKAGE) == date(2027, 1, 11)


def test_a_calendar_term_ending_on_a_moved_day_off_ends_the_day_after():
    # 6 Feb 2026 + 30 = Sunday 8 March 2026; Monday 9 March is the moved day off:
    # Tuesday 10 March 2026.
    assert due_date(date(2026, 2, 6), 30, False, PACKAGE) == date(2026, 3, 10)


def test_an_administrators_day_off_moves_the_term_on():
    regional = Calendar({date(2026, 3, 10): False})
    assert due_date(date(2026, 2, 6), 30, False, regional) == date(2026, 3, 11)


def test_an_administrators_working_saturday_ends_the_term_on_it():
    # 5 Feb 2026 + 30 = Saturday 7 March 2026: without the exception Tuesday 10 March.
    assert due_date(date(2026, 2, 5), 30, False, PACKAGE) == date(2026, 3, 10)
    working_saturday = Calendar({date(2026, 3, 7): True})
    assert due_date(date(2026, 2, 5), 30, False, working_saturday) == date(2026, 3, 7)


def test_15_working_days_across_31_december_and_the_january_holidays():
    # From Thu 24 Dec 2026: 25, 28, 29, 30 Dec (4; 31 Dec is off by the decree), then
    # 11–15 Jan (9), 18–22 Jan (14), 25 Jan (15): Monday 25 January 2027.
    assert due_date(date(2026, 12, 24), 15, True, PACKAGE) == date(2027, 1, 25)


def test_voicemail_with_a_phone_5_working_days():
    # From Fri 25 Dec 2026: 28, 29, 30 Dec, 11, 12 Jan → Tuesday 12 January 2027.
    assert due_date(date(2026, 12, 25), 5, True, PACKAGE) == date(2027, 1, 12)


def test_voicemail_with_an_address_only_20_working_days():
    # 28–30 Dec (3), 11–15 Jan (8), 18–22 (13), 25–29 (18), 1 Feb (19), 2 Feb (20).
    assert due_date(date(2026, 12, 25), 20, True, PACKAGE) == date(2027, 2, 2)


def test_working_days_with_an_administrators_exception():
    # 30 December 2026 made a regional day off: the 5th working day after 25 Dec is 13 Jan.
    regional = Calendar({date(2026, 12, 30): False})
    assert due_date(date(2026, 12, 25), 5, True, regional) == date(2027, 1, 13)


def test_the_internal_target_one_working_day_after_registration_on_wednesday_30_december():
    # Registered Wed 30 Dec 2026: the next working day is Monday 11 January 2027.
    assert internal_target(date(2026, 12, 30), 1, PACKAGE) == date(2027, 1, 11)


def test_days_a_stopped_clock_gives_back():
    # Asked Mon 28 Dec 2026, answered Tue 12 Jan 2027: 15 calendar days, of which
    # working: 29, 30 Dec, 11, 12 Jan = 4.
    assert days_between(date(2026, 12, 28), date(2027, 1, 12), False, PACKAGE) == 15
    assert days_between(date(2026, 12, 28), date(2027, 1, 12), True, PACKAGE) == 4
    assert days_between(date(2027, 1, 12), date(2027, 1, 12), True, PACKAGE) == 0
