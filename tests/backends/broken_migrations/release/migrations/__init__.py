"""``tests.tenantapp``'s migrations with a release of three more: DDL, RunPython, RunSQL."""
