"""Use cases. Each money-moving command is one unit of work: one database transaction."""
