"""One settings module per variant; :mod:`.common` holds what they share."""
