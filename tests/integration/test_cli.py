"""Command-line tools a newcomer and an operator of the installation use."""

from sqlalchemy import select

from portal.models import Staff


def test_staff_create_makes_the_first_administrator(app, db_session):
    result = app.test_cli_runner().invoke(
        args=[
            "staff",
            "create",
            "--email",
            "Chief@Energo.RU",
            "--name",
            "Орлова Мария",
            "--password",
            "Start-2026",
        ]
    )
    assert result.exit_code == 0, result.output
    chief = db_session.scalar(select(Staff).where(Staff.email == "chief@energo.ru"))
    assert chief.role == "admin"
    assert chief.check_password("Start-2026")


def test_staff_create_refuses_a_weak_password_with_a_message(app, db_session):
    result = app.test_cli_runner().invoke(
        args=["staff", "create", "--email", "x@energo.ru", "--name", "Икс", "--password", "123"]
    )
    assert result.exit_code != 0
    assert "8" in result.output  # the rule is explained, no traceback
    assert "Traceback" not in result.output
