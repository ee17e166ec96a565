"""Domain errors: their message is fit to show the person who caused them."""


class DomainError(Exception):
    """A rule refused the action; ``str(error)`` is a translated message for the user."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field  # the form field the message belongs next to, if any


class FieldErrors(DomainError):
    """Several fields refused at once: ``errors`` maps each field to its message. Shown as
    a whole it reads as the first message, next to the first field."""

    def __init__(self, errors: dict[str, str]):
        field, message = next(iter(errors.items()))
        super().__init__(message, field)
        self.errors = errors


class NotFound(DomainError):
    """The object does not exist or the current person may not see it (answers 404)."""

    def __init__(self, message: str = "not found"):
        super().__init__(message)
