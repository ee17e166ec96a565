"""Names as they go onto bills and letters: one rule for sign-up, the profile, the back
office (customers and staff), imports and demo data.

- ``person_name``: letters of any script, digits, spaces and punctuation; emoji and other
  symbols (markup's ``<`` ``>`` among them), control and invisible formatting characters (a
  NUL, a right-to-left override) and the replacement character left by input that was not
  UTF-8 are refused;
- ``organisation_name``: the same, plus the two symbols real names of organisations carry:
  the sign № ("МБОУ СОШ № 5") and + ("ООО «Строй+»"); longer, as the registry writes them;
- ``customer_name``: the rule of the customer's kind.

Spaces are tidied (one between words, none around) and the text composed (NFC), so "й"
typed as "и" and a combining breve is stored as one letter. A refusal is a DomainError on
the field "full_name", worded for the person typing.
"""

import unicodedata

from flask_babel import gettext as _
from flask_babel import ngettext

from portal.models import CustomerKind
from portal.services.errors import DomainError

MAX_NAME_LENGTH = 200  # the users' and staff's columns
MAX_ORGANISATION_NAME_LENGTH = 300  # the customers' and organisations' columns
ORGANISATION_SYMBOLS = frozenset("№+")
FIELD = "full_name"


def tidy(raw: str | None) -> str:
    """The text composed (NFC), with single spaces between words and none around."""
    return " ".join(unicodedata.normalize("NFC", raw or "").split())


def _has_symbols(name: str, allowed: frozenset[str] = frozenset()) -> bool:
    """Whether the name has a symbol (S*) or a control, format, private-use or unassigned
    character (C*) other than the allowed ones."""
    return any(unicodedata.category(ch)[0] in "CS" and ch not in allowed for ch in name)


def person_name(raw: str | None, *, missing: str | None = None) -> str:
    """A person's name with spaces tidied, or a DomainError.

    ``missing`` words the refusal of an empty name for whoever types it (staff typing a
    customer's name); by default it speaks to the person themself."""
    name = tidy(raw)
    if not name:
        raise DomainError(missing or _("Enter your full name."), FIELD)
    if len(name) > MAX_NAME_LENGTH:
        raise DomainError(
            ngettext(
                "The name is too long: at most %(num)s character.",
                "The name is too long: at most %(num)s characters.",
                MAX_NAME_LENGTH,
            ),
            FIELD,
        )
    if not any(ch.isalpha() for ch in name) or _has_symbols(name):
        raise DomainError(
            _("Write the name in letters: emoji and special symbols are not allowed."), FIELD
        )
    return name


def organisation_name(raw: str | None) -> str:
    """An organisation's name with spaces tidied, or a DomainError."""
    name = tidy(raw)
    if not name:
        raise DomainError(_("Enter the organisation's name."), FIELD)
    if len(name) > MAX_ORGANISATION_NAME_LENGTH:
        raise DomainError(
            ngettext(
                "The organisation's name is too long: at most %(num)s character.",
                "The organisation's name is too long: at most %(num)s characters.",
                MAX_ORGANISATION_NAME_LENGTH,
            ),
            FIELD,
        )
    if not any(ch.isalpha() for ch in name) or _has_symbols(name, ORGANISATION_SYMBOLS):
        raise DomainError(
            _(
                "Write the organisation's name in letters: emoji and special symbols other than № and + are not allowed."
            ),
            FIELD,
        )
    return name


def customer_name(kind: CustomerKind | str, raw: str | None) -> str:
    """A customer's name by the rule of its kind (a person's or an organisation's)."""
    if kind == CustomerKind.ORGANISATION:
        return organisation_name(raw)
    return person_name(raw, missing=_("Enter the customer's full name."))
