"""Legal-entity customers: the organisation card, its users, roles and invitations."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from portal.models import Invitation, OrganisationMember
from tests import factories
from tests.conftest import (
    field_error,
    link_in,
    login_as,
    mail_text,
    page,
    post_form,
    texts_with_class,
    translated,
)


@pytest.fixture
def owner(db_session):
    return factories.make_user(
        db_session, full_name="Орлов Олег Олегович", email="owner@romashka.ru"
    )


@pytest.fixture
def organisation(db_session, owner):
    organisation = factories.make_organisation(
        db_session,
        owner=owner,
        name="ООО «Ромашка»",
        inn="7701234567",
        kpp="770101001",
        ogrn="1027700123456",
    )
    contract = factories.make_contract(db_session, organisation, number="Д-2026/0042")
    factories.make_account(
        db_session, number="7700000001", contract_id=contract.id, category="others"
    )
    return organisation


def add_member(session, organisation, role: str, **user_fields):
    user = factories.make_user(session, **user_fields)
    member = OrganisationMember(organisation_id=organisation.id, user_id=user.id, role=role)
    session.add(member)
    session.flush()
    return user, member


def member_of(session, organisation, user) -> OrganisationMember | None:
    return session.scalar(
        select(OrganisationMember).where(
            OrganisationMember.organisation_id == organisation.id,
            OrganisationMember.user_id == user.id,
        )
    )


def invitations(session, organisation) -> list[Invitation]:
    return list(
        session.scalars(select(Invitation).where(Invitation.organisation_id == organisation.id))
    )


def card_url(organisation) -> str:
    return f"/organisations/{organisation.id}"


def invite(client, organisation, email: str, role: str = "accountant"):
    return post_form(client, f"{card_url(organisation)}/invite", {"email": email, "role": role})


def flashed(client, response) -> str:
    """The page a redirect leads to, with its flashed messages."""
    assert response.status_code == 303
    return page(client.get(response.headers["Location"]))


# --- The card -------------------------------------------------------------------------


def test_owner_sees_the_card(client, owner, organisation, db_session):
    accountant, _member = add_member(
        db_session, organisation, "accountant", full_name="Бухова Бэлла"
    )
    login_as(client, owner)
    response = client.get(card_url(organisation))
    assert response.status_code == 200
    text = page(response)
    for value in (
        "ООО «Ромашка»",
        "7701234567",
        "770101001",
        "1027700123456",
        "Д-2026/0042",
        "7700000001",
    ):
        assert value in text
    assert "Орлов Олег Олегович" in text
    assert "Бухова Бэлла" in text
    assert accountant.email in text
    body = response.get_data(as_text=True)
    assert f'action="{card_url(organisation)}/invite"' in body
    # the role of each colleague can be changed from a list with the current role chosen
    assert '<option value="accountant" selected>' in body
    assert '<option value="viewer">' in body
    assert '<option value="owner">' in body
    assert response.headers["Cache-Control"] == "no-store"


def test_single_organisation_index_goes_to_the_card(client, owner, organisation):
    login_as(client, owner)
    response = client.get("/organisations/")
    assert response.status_code == 302
    assert response.headers["Location"] == card_url(organisation)


def test_index_lists_several_organisations(client, owner, organisation, db_session):
    second = factories.make_organisation(db_session, owner=owner, name="АО «Василёк»")
    login_as(client, owner)
    response = client.get("/organisations/")
    assert response.status_code == 200
    assert "ООО «Ромашка»" in page(response)
    assert "АО «Василёк»" in page(response)
    assert f'href="{card_url(second)}"' in response.get_data(as_text=True)


def test_index_without_organisations(client, db_session):
    login_as(client, factories.make_user(db_session))
    assert client.get("/organisations/").status_code == 200


def test_non_member_gets_404(client, organisation, db_session):
    login_as(client, factories.make_user(db_session))
    response = client.get(card_url(organisation))
    assert response.status_code == 404
    assert "7701234567" not in page(response)
    assert client.get("/organisations/999999").status_code == 404
    assert invite(client, organisation, "x@example.ru").status_code == 404
    assert invitations(db_session, organisation) == []


@pytest.mark.parametrize("role", ["accountant", "viewer"])
def test_accountant_and_viewer_see_the_card_without_the_invite_form(
    client, organisation, db_session, role
):
    user, _member = add_member(db_session, organisation, role)
    login_as(client, user)
    response = client.get(card_url(organisation))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "7701234567" in body
    assert "/invite" not in body
    assert "/remove" not in body
    assert "/role" not in body


@pytest.mark.parametrize("role", ["accountant", "viewer"])
def test_accountant_and_viewer_cannot_invite(app, client, organisation, db_session, mailbox, role):
    user, _member = add_member(db_session, organisation, role)
    login_as(client, user)
    response = invite(client, organisation, "colleague@romashka.ru")
    assert response.status_code in (303, 403)
    text = flashed(client, response) if response.status_code == 303 else page(response)
    assert translated(app, "Only the owner can manage the organisation's users.") in text
    assert invitations(db_session, organisation) == []
    assert mailbox == []
    # nor with a broken form, which must not hide the refusal either
    broken = invite(client, organisation, "not-an-email")
    assert broken.status_code in (303, 403)
    assert invitations(db_session, organisation) == []


@pytest.mark.parametrize("role", ["accountant", "viewer"])
def test_accountant_and_viewer_cannot_manage_members(client, owner, organisation, db_session, role):
    user, _member = add_member(db_session, organisation, role)
    _other, other_member = add_member(db_session, organisation, "viewer")
    owner_member = member_of(db_session, organisation, owner)
    login_as(client, user)
    url = card_url(organisation)
    assert post_form(client, f"{url}/members/{other_member.id}/remove", {}).status_code == 303
    assert (
        post_form(client, f"{url}/members/{owner_member.id}/role", {"role": "viewer"}).status_code
        == 303
    )
    assert member_of(db_session, organisation, owner).role == "owner"
    assert member_of(db_session, organisation, _other) is not None


# --- Invitations ---------------------------------------------------------------------


def test_owner_invites_and_the_colleague_accepts(
    client, other_client, owner, organisation, db_session, mailbox
):
    login_as(client, owner)
    response = invite(client, organisation, "Colleague@Romashka.ru", "accountant")
    assert response.status_code == 303
    assert response.headers["Location"] == card_url(organisation)
    [invitation] = invitations(db_session, organisation)
    assert invitation.email == "colleague@romashka.ru"
    assert invitation.role == "accountant"
    assert invitation.invited_by_id == owner.id
    assert "colleague@romashka.ru" in page(client.get(card_url(organisation)))  # pending list

    [letter] = mailbox
    assert letter["To"] == "colleague@romashka.ru"
    assert "ООО «Ромашка»" in mail_text(letter)
    accept_path = link_in(letter, "/organisations/invitations/")

    # a visitor sees the invitation and is asked to sign in
    visitor_view = other_client.get(accept_path)
    assert visitor_view.status_code == 200
    assert "ООО «Ромашка»" in page(visitor_view)
    assert "/login?next=" in visitor_view.get_data(as_text=True)

    colleague = factories.make_user(db_session, email="colleague@romashka.ru")
    login_as(other_client, colleague)
    accepted = post_form(other_client, accept_path, {})
    assert accepted.status_code == 303
    assert accepted.headers["Location"] == card_url(organisation)
    assert member_of(db_session, organisation, colleague).role == "accountant"
    db_session.refresh(invitation)
    assert invitation.accepted_at is not None
    assert other_client.get(card_url(organisation)).status_code == 200

    # the link works once
    assert other_client.get(accept_path).status_code == 400


def test_invitation_for_another_address_is_refused_clearly(
    app, client, other_client, owner, organisation, db_session, mailbox
):
    login_as(client, owner)
    invite(client, organisation, "colleague@romashka.ru")
    accept_path = link_in(mailbox[0], "/organisations/invitations/")
    intruder = factories.make_user(db_session, email="intruder@example.ru")
    login_as(other_client, intruder)
    response = post_form(other_client, accept_path, {})
    text = flashed(other_client, response)
    message = translated(
        app,
        "This invitation was sent to %(email)s. Sign in with that address.",
        email="colleague@romashka.ru",
    )
    assert message in text
    assert member_of(db_session, organisation, intruder) is None
    assert invitations(db_session, organisation)[0].accepted_at is None


def test_accepting_without_signing_in_does_nothing(
    client, other_client, owner, organisation, db_session, mailbox
):
    login_as(client, owner)
    invite(client, organisation, "colleague@romashka.ru")
    accept_path = link_in(mailbox[0], "/organisations/invitations/")
    response = post_form(other_client, accept_path, {})
    assert response.status_code == 200
    assert invitations(db_session, organisation)[0].accepted_at is None


def test_invitation_expires(client, other_client, owner, organisation, db_session, mailbox):
    login_as(client, owner)
    invite(client, organisation, "colleague@romashka.ru")
    accept_path = link_in(mailbox[0], "/organisations/invitations/")
    with time_machine.travel(datetime.now(UTC) + timedelta(days=8)):
        assert other_client.get(accept_path).status_code == 400


@pytest.mark.parametrize("token", ["garbage", "x" * 500])
def test_bad_invitation_links(client, token):
    assert client.get(f"/organisations/invitations/{token}").status_code == 400


def test_cannot_invite_an_existing_member(client, owner, organisation, db_session, mailbox):
    colleague, _member = add_member(db_session, organisation, "viewer")
    login_as(client, owner)
    response = invite(client, organisation, colleague.email.upper())
    assert response.status_code == 400
    assert field_error(response, "email")
    assert invitations(db_session, organisation) == []
    assert mailbox == []


@pytest.mark.parametrize(
    ("email", "role"), [("not-an-email", "viewer"), ("a@b.ru", "president"), ("", "viewer")]
)
def test_invite_form_validation(client, owner, organisation, db_session, email, role):
    login_as(client, owner)
    response = invite(client, organisation, email, role)
    assert response.status_code == 400
    assert texts_with_class(response, "invalid-feedback")
    assert invitations(db_session, organisation) == []


def test_owner_revokes_an_invitation(
    client, other_client, owner, organisation, db_session, mailbox
):
    login_as(client, owner)
    invite(client, organisation, "colleague@romashka.ru")
    accept_path = link_in(mailbox[0], "/organisations/invitations/")
    [invitation] = invitations(db_session, organisation)
    response = post_form(client, f"{card_url(organisation)}/invitations/{invitation.id}/revoke", {})
    assert response.status_code == 303
    assert invitations(db_session, organisation) == []
    assert other_client.get(accept_path).status_code == 400


def test_revoking_another_organisations_invitation_is_404(client, owner, organisation, db_session):
    other_owner = factories.make_user(db_session)
    other = factories.make_organisation(db_session, owner=other_owner)
    foreign = Invitation(
        organisation_id=other.id, email="x@example.ru", role="viewer", invited_by_id=other_owner.id
    )
    db_session.add(foreign)
    db_session.flush()
    login_as(client, owner)
    response = post_form(client, f"{card_url(organisation)}/invitations/{foreign.id}/revoke", {})
    assert response.status_code == 404
    assert invitations(db_session, other) == [foreign]


def test_viewer_cannot_revoke(app, client, owner, organisation, db_session):
    pending = Invitation(
        organisation_id=organisation.id, email="x@example.ru", role="viewer", invited_by_id=owner.id
    )
    db_session.add(pending)
    viewer, _member = add_member(db_session, organisation, "viewer")
    login_as(client, viewer)
    response = post_form(client, f"{card_url(organisation)}/invitations/{pending.id}/revoke", {})
    assert translated(app, "Only the owner can manage the organisation's users.") in flashed(
        client, response
    )
    assert invitations(db_session, organisation) == [pending]


# --- Members and roles ----------------------------------------------------------------


def test_owner_changes_a_role(client, owner, organisation, db_session):
    colleague, member = add_member(db_session, organisation, "viewer")
    login_as(client, owner)
    response = post_form(
        client, f"{card_url(organisation)}/members/{member.id}/role", {"role": "accountant"}
    )
    assert response.status_code == 303
    assert member_of(db_session, organisation, colleague).role == "accountant"


def test_invalid_role_is_refused(client, owner, organisation, db_session):
    colleague, member = add_member(db_session, organisation, "viewer")
    login_as(client, owner)
    response = post_form(
        client, f"{card_url(organisation)}/members/{member.id}/role", {"role": "president"}
    )
    assert response.status_code == 303
    assert texts_with_class(client.get(response.headers["Location"]), "alert-danger")
    assert member_of(db_session, organisation, colleague).role == "viewer"


def test_owner_cannot_demote_self(app, client, owner, organisation, db_session):
    own = member_of(db_session, organisation, owner)
    login_as(client, owner)
    response = post_form(
        client, f"{card_url(organisation)}/members/{own.id}/role", {"role": "viewer"}
    )
    assert translated(app, "You cannot take the owner role from yourself.") in flashed(
        client, response
    )
    assert member_of(db_session, organisation, owner).role == "owner"


def test_owner_removes_a_member(client, owner, organisation, db_session):
    colleague, member = add_member(db_session, organisation, "accountant")
    login_as(client, owner)
    response = post_form(client, f"{card_url(organisation)}/members/{member.id}/remove", {})
    assert response.status_code == 303
    assert member_of(db_session, organisation, colleague) is None


def test_removed_member_loses_access(client, other_client, owner, organisation, db_session):
    colleague, member = add_member(db_session, organisation, "accountant")
    login_as(other_client, colleague)
    assert other_client.get(card_url(organisation)).status_code == 200
    login_as(client, owner)
    post_form(client, f"{card_url(organisation)}/members/{member.id}/remove", {})
    assert other_client.get(card_url(organisation)).status_code == 404


def test_owner_cannot_remove_self(app, client, owner, organisation, db_session):
    own = member_of(db_session, organisation, owner)
    login_as(client, owner)
    response = post_form(client, f"{card_url(organisation)}/members/{own.id}/remove", {})
    assert translated(app, "You cannot remove yourself; ask another owner.") in flashed(
        client, response
    )
    assert member_of(db_session, organisation, owner) is not None


def test_members_of_another_organisation_are_404(client, owner, organisation, db_session):
    other = factories.make_organisation(db_session, owner=factories.make_user(db_session))
    _stranger, foreign = add_member(db_session, other, "viewer")
    login_as(client, owner)
    url = card_url(organisation)
    assert post_form(client, f"{url}/members/{foreign.id}/remove", {}).status_code == 404
    assert (
        post_form(client, f"{url}/members/{foreign.id}/role", {"role": "owner"}).status_code == 404
    )
    assert post_form(client, f"{url}/members/999999/remove", {}).status_code == 404
    assert member_of(db_session, other, _stranger).role == "viewer"


def test_a_second_owner_can_be_made_and_can_manage(
    client, other_client, owner, organisation, db_session
):
    colleague, member = add_member(db_session, organisation, "accountant")
    login_as(client, owner)
    post_form(client, f"{card_url(organisation)}/members/{member.id}/role", {"role": "owner"})
    login_as(other_client, colleague)
    own = member_of(db_session, organisation, owner)
    response = post_form(
        other_client, f"{card_url(organisation)}/members/{own.id}/role", {"role": "viewer"}
    )
    assert response.status_code == 303
    assert member_of(db_session, organisation, owner).role == "viewer"
