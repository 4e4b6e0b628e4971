"""URLconfs of the URLconf tests: one for the public host, one built from tenant rows."""
