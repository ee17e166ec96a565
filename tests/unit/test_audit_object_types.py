"""Every kind of object an audit event can name is known and has a label in the back office."""

import pytest

from portal.models.audit import AuditObject
from portal.services import audit


def test_every_object_type_has_a_label():
    assert {kind for kind in AuditObject if str(kind.label) != kind.value} == audit.OBJECT_TYPES


def test_an_unknown_object_type_is_refused_before_it_is_stored():
    with pytest.raises(ValueError, match="unknown audit object type"):
        audit.record(None, staff_id=1, action="view", object_type="spaceship", object_id=1)
