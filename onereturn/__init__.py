"""The kernel every layer uses: settings, the database, errors, logging, memory and process helpers,
spreadsheet safety, the audit trail, backup, the outbox and the schema migrations. It imports none of the packages
above it."""
