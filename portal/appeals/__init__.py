"""Appeals and complaints of residents, organisation users and guests."""
