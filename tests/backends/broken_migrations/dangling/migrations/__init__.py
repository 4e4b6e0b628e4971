"""``tests.tenantapp``'s migrations plus a data migration whose foreign key dangles."""
