"""``tests.tenantapp``'s migrations with a second one a new release would bring."""
