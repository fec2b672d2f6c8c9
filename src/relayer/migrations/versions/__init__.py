"""The revisions, oldest first. Each is frozen once released: it spells out its own tables and
columns and never imports `relayer.db`, whose models describe only the newest schema."""
