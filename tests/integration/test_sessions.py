"""A password change or reset ends the person's other sessions; this one goes on."""

from tests import factories
from tests.conftest import post_form, sign_in


def test_changing_the_password_signs_out_other_devices(client, other_client, db_session):
    user = factories.make_user(db_session)
    sign_in(client, user.email, factories.PASSWORD)
    sign_in(other_client, user.email, factories.PASSWORD)
    assert other_client.get("/profile/").status_code == 200

    response = post_form(
        client,
        "/profile/password",
        {
            "current_password": factories.PASSWORD,
            "password": "Novyi-parol-7",
            "password_again": "Novyi-parol-7",
        },
    )

    assert response.status_code == 303
    assert client.get("/profile/").status_code == 200  # this device stays signed in
    assert other_client.get("/profile/").status_code == 302  # the other one is signed out


def test_a_stale_staff_session_is_not_honoured(client, db_session):
    staff = factories.make_staff(db_session, role="admin")
    sign_in(client, staff.email, factories.PASSWORD, staff=True)
    assert client.get("/admin/").status_code == 200
    staff.set_password("Drugoi-parol-8")
    db_session.commit()
    assert client.get("/admin/").status_code == 302
