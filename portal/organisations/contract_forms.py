"""Forms of the contract page: the reconciliation act's dates, the periods of a ZIP, the
readings CSV. The first two are GET forms (a download changes nothing): no CSRF."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, FileSize
from wtforms import DateField, SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired

from portal.services import contract_readings

FORMATS = [SelectChoice("pdf", "PDF"), SelectChoice("xlsx", "XLSX")]


class ReconciliationForm(FlaskForm):
    class Meta:
        csrf = False

    date_from = DateField(_l("From"), validators=[InputRequired()])
    date_to = DateField(_l("To"), validators=[InputRequired()])
    format = SelectField(_l("Format"), choices=FORMATS, default="pdf")


class ZipForm(FlaskForm):
    class Meta:
        csrf = False

    period = SelectMultipleField(
        _l("Periods"), validators=[DataRequired(message=_l("Choose at least one month."))]
    )


class ReadingsUploadForm(FlaskForm):
    file = FileField(
        _l("CSV file of readings"),
        validators=[
            FileRequired(message=_l("Choose the file.")),
            FileSize(contract_readings.MAX_BYTES, message=_l("The file is too large.")),
        ],
    )


def forms_for(contract, documents, reconciliation=None, archive=None, upload=None) -> dict:
    periods = sorted({document.period for document in documents}, reverse=True)
    archive = archive or ZipForm(formdata=None)
    archive.period.choices = [
        SelectChoice(p.strftime("%Y-%m"), p.strftime("%Y-%m")) for p in periods
    ]
    return {
        "reconciliation_form": reconciliation or ReconciliationForm(formdata=None),
        "zip_form": archive,
        "upload_form": upload or ReadingsUploadForm(formdata=None),
        "periods": periods,
    }
