"""``notes`` migrations of the release: its own 0001 plus one new migration."""
