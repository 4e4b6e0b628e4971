"""``tests.tenantapp``'s migrations plus a data migration and a later ALTER, as real apps
(Wagtail among them) have."""
