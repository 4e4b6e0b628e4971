"""``tests.tenantapp``'s migrations plus one that cannot run inside a transaction."""
