"""Who may ask the logger for what: the roles, signed requests and operator sessions
(docs/OPERATIONS.md "Roles and keys"; docs/DESIGN.md section 10)."""
