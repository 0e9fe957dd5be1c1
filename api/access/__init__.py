"""Who may read what a council or region sent, and what the audit records: shared by routes and pages."""
