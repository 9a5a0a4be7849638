"""Persistence: tables, queries, the unit of work and migrations. The only place with SQL."""
