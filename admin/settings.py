"""Settings in the back office, for administrators: every deadline, window, threshold and
rate of ``portal.services.settings`` with its value, default, range and last change; one
value changed or reset at a time. htmx edits a row in place; without JavaScript each
setting has its own page. Every rule is in the settings service."""

from babel.numbers import format_decimal
from flask import flash, render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField

from admin import bp
from admin.access import staff_required
from portal.extensions import db
from portal.services import settings
from portal.web import (
    client_ip,
    page_or_fragment,
    redirect_after_post,
    refusal_shown_on,
    staff_member,
    wants_fragment,
)


class SettingForm(FlaskForm):
    """One setting's new value; its label and hint come from the setting. Checked by the
    service (kind, range, rules between settings)."""

    value = StringField(_l("New value"))


def typed(value) -> str:
    """A value as a person would type it here: "0,1" in Russian, no thousands separator."""
    return format_decimal(value, locale=get_locale(), group_separator=False)


def setting_form(item: settings.SettingView, blank: bool = False) -> SettingForm:
    """The form with what was posted, or (``blank``) with the current value."""
    form = SettingForm(prefix=item.slug, formdata=None) if blank else SettingForm(prefix=item.slug)
    form.value.description = _(
        "From %(minimum)s to %(maximum)s; the default is %(default)s.",
        minimum=typed(item.spec.minimum),
        maximum=typed(item.spec.maximum),
        default=typed(item.spec.default),
    )
    if blank:
        form.value.data = typed(item.value)
    return form


def _item(key: str) -> settings.SettingView:
    """The setting (an unknown key is the service's NotFound: the 404 page)."""
    return settings.view(db.session, key)


def _editing(item: settings.SettingView, form: SettingForm):
    """The edit row (htmx) or the setting's own page."""
    group = settings.GROUPS.get(item.key.split(".", 1)[0])
    return page_or_fragment(
        "admin/settings/edit.html", "admin/settings/_row.html", item=item, form=form, group=group
    )


def _done(key: str, result: settings.Change, reset: bool = False):
    """Commit the change; the row with what happened (htmx), or back to the list (303)."""
    db.session.commit()
    if not result.changed:
        message, category = (
            _("Nothing changed: the value is %(value)s.", value=typed(result.new)),
            "info",
        )
    elif reset:
        message, category = _("Back to the default: %(value)s.", value=typed(result.new)), "success"
    else:
        message, category = (
            _("Saved: %(old)s → %(new)s.", old=typed(result.old), new=typed(result.new)),
            "success",
        )
    item = settings.view(db.session, key)
    if wants_fragment():
        return render_template("admin/settings/_row.html", item=item, message=message)
    flash(f"{item.spec.label}: {message}", category)
    return redirect_after_post("admin.settings_index")


@bp.get("/settings")
@staff_required("settings")
def settings_index():
    return page_or_fragment(
        "admin/settings/index.html",
        "admin/settings/_groups.html",
        groups=settings.overview(db.session),
    )


@bp.get("/settings/<key>")
@staff_required("settings")
def settings_edit(key: str):
    item = _item(key)
    return _editing(item, setting_form(item, blank=True))


@bp.post("/settings/<key>")
@staff_required("settings")
def settings_change(key: str):
    item = _item(key)
    form = setting_form(item)
    if form.validate_on_submit():
        with refusal_shown_on(form):
            result = settings.change(
                db.session, key, form.value.data, staff_id=staff_member().id, ip=client_ip()
            )
            return _done(key, result)
    return _editing(item, form)


@bp.post("/settings/<key>/reset")
@staff_required("settings")
def settings_reset(key: str):
    item = _item(key)
    form = setting_form(item, blank=True)
    with refusal_shown_on(form):
        result = settings.reset(db.session, key, staff_id=staff_member().id, ip=client_ip())
        return _done(key, result, reset=True)
    return _editing(item, form)
