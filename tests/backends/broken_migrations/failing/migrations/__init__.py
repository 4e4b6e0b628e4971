"""``tests.tenantapp``'s migrations with a second one the server refuses."""
