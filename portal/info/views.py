"""Published information (002 §10.4, §18.6–18.8; 004 §6.2): public pages without signing
in, each read from the rows the rest of the portal works with — the tariffs and norms the
billing charges by, the document checklists the application form asks for, the appeal
terms of the settings — so what is published is what is applied."""

from collections import defaultdict

from flask import Blueprint, render_template
from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    AppealKind,
    ApplicationKind,
    ChecklistItem,
    ConsumptionNorm,
    Segment,
    Tariff,
)
from portal.services import settings, tariffs
from portal.services.clock import local_today

bp = Blueprint("info", __name__, url_prefix="/info")


@bp.route("/")
def index():
    return render_template("portal/info/index.html")


@bp.route("/tariffs")
def tariffs_page():
    """Tariffs in force by service, zone and category, with every earlier and coming row."""
    today = local_today()
    history = defaultdict(list)
    for row in db.session.scalars(select(Tariff).order_by(Tariff.valid_from.desc())):
        history[(row.service, row.zone, row.category)].append(row)
    norms = db.session.scalars(
        select(ConsumptionNorm).order_by(ConsumptionNorm.service, ConsumptionNorm.valid_from.desc())
    ).all()
    return render_template(
        "portal/info/tariffs.html",
        lines=[line for line in tariffs.tariff_table(db.session, today) if line.versions],
        history=history,
        norms=norms,
        today=today,
        in_force=tariffs.in_force,
    )


@bp.route("/documents")
def documents_page():
    """The documents each kind of application asks of each segment: the application
    form's own checklist."""
    items = db.session.scalars(
        select(ChecklistItem)
        .where(ChecklistItem.active.is_(True))
        .order_by(
            ChecklistItem.kind, ChecklistItem.segment, ChecklistItem.position, ChecklistItem.id
        )
    ).all()
    grouped = defaultdict(list)
    for item in items:
        grouped[(item.kind, item.segment)].append(item)
    return render_template(
        "portal/info/documents.html", grouped=grouped, kinds=ApplicationKind, segments=Segment
    )


@bp.route("/appeals")
def appeals_page():
    """How to write to us and the terms of the answer, from the appeal settings."""
    terms = [
        (
            kind,
            settings.get(db.session, f"appeals.{kind}.days"),
            bool(settings.get(db.session, f"appeals.{kind}.working_days")),
            settings.get(db.session, f"appeals.{kind}.extension_days"),
        )
        for kind in AppealKind
    ]
    return render_template(
        "portal/info/appeals.html",
        terms=terms,
        max_total=settings.get(db.session, "appeals.max_total_days"),
        voicemail_phone=settings.get(db.session, "appeals.voicemail_phone_days"),
        voicemail_address=settings.get(db.session, "appeals.voicemail_address_days"),
        application_days={
            key: settings.get(db.session, f"applications.{key}")
            for key in (
                "answer_days",
                "refusal_days",
                "contract_days.legal",
                "contract_days.household",
                "meter_conditions_days",
                "disagreement_days",
                "complaint_days",
            )
        },
    )
