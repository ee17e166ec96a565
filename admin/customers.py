"""The customer registry: live search, the customer's card, editing personal data."""

from functools import partial

from flask import flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from admin import bp
from admin.access import staff_required
from portal.extensions import db
from portal.models import CustomerKind, MeterStatus
from portal.services import customers as registry
from portal.services import names
from portal.services.errors import DomainError
from portal.services.users import normalise_phone
from portal.web import (
    client_ip,
    page_of,
    page_or_fragment,
    redirect_after_post,
    refusal_shown_on,
    rule_check,
    staff_member,
)

VULNERABILITY_LABELS = {
    "lives_alone_disabled": _l("lives alone, disabled"),
    "veteran": _l("veteran"),
    "senior": _l("over 65"),
}


# --- the registry ---------------------------------------------------------------------------


@bp.route("/customers")
@staff_required("customers")
def customers():
    term = registry.clean_term(request.args.get("q"))
    registry.record_search(db.session, term, staff=staff_member(), ip=client_ip())
    page = page_of(registry.search_customers(term), registry.PAGE_SIZE)
    html = page_or_fragment(
        "admin/customers/index.html",
        "admin/customers/_results.html",
        term=term,
        page=page,
        CustomerKind=CustomerKind,
    )
    db.session.commit()  # the search's audit record; after the page, which it would expire
    return html


@bp.route("/customers/<int:customer_id>")
@staff_required("customers")
def customer_card(customer_id: int):
    card = registry.open_card(db.session, customer_id, staff=staff_member(), ip=client_ip())
    html = render_template(
        "admin/customers/card.html",
        card=card,
        VULNERABILITY_LABELS=VULNERABILITY_LABELS,
        CustomerKind=CustomerKind,
        MeterStatus=MeterStatus,
    )
    db.session.commit()  # the view's audit record; after the page, which it would expire
    return html


# --- editing --------------------------------------------------------------------------------


class CustomerForm(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=300)])
    phone = TelField(
        _l("Mobile phone"),
        validators=[Optional(), Length(max=30)],
        description=_l("For example +7 916 123-45-67; leave empty if unknown"),
    )
    email = EmailField(_l("E-mail"), validators=[Optional(), Email(), Length(max=254)])
    postal_address = StringField(_l("Postal address"), validators=[Optional(), Length(max=400)])
    birth_date = DateField(_l("Date of birth"), validators=[Optional()])
    lives_alone_disabled = BooleanField(_l("Lives alone and has a disability"))
    is_veteran = BooleanField(_l("Veteran"))

    def __init__(self, *args, kind: CustomerKind = CustomerKind.PERSON, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind  # the customer's: a person's and an organisation's names differ

    def validate_full_name(self, field):
        """The service's rule for the customer's kind, so every error shows at once."""
        if not field.errors:  # a name already too long for the form needs no second word
            rule_check(partial(names.customer_name, self.kind))(self, field)

    def validate_phone(self, field):
        """The same rule as the service, so every error shows at once."""
        try:
            normalise_phone(field.data)
        except DomainError as error:
            raise ValidationError(error.message) from error

    notes = TextAreaField(
        _l("Notes"),
        validators=[Optional(), Length(max=2000)],
        description=_l("Seen by staff only"),
    )


@bp.route("/customers/<int:customer_id>/edit", methods=["GET", "POST"])
@staff_required("customers.edit")
def customer_edit(customer_id: int):
    staff = staff_member()
    customer = registry.get_customer(
        db.session, customer_id, staff=None if request.method == "POST" else staff, ip=client_ip()
    )
    form = CustomerForm(obj=customer, kind=customer.kind)
    if form.validate_on_submit():
        fields = {name: form[name].data for name in registry.EDITABLE_FIELDS}
        with refusal_shown_on(form):
            changes = registry.update_customer(db.session, customer, staff, client_ip(), **fields)
            db.session.commit()
            flash(
                _("The customer's data is saved.") if changes else _("Nothing was changed."),
                "success" if changes else "info",
            )
            return redirect_after_post("admin.customer_card", customer_id=customer_id)
    html = render_template("admin/customers/edit.html", form=form, customer=customer)
    db.session.commit()  # the view's audit record (GET)
    return html
