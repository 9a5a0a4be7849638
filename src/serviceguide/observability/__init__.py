"""What an operator sees of a running server: metrics (``metrics``), structured, masked logs
(``logs``, ``redact``), the request id that ties a request's log lines, outbox rows and delivery
attempts together (``request_id``), and the HTTP layer that records each request (``http``).
docs/operations.md is the operator's side of it."""
