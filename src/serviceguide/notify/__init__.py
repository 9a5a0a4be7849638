"""Notifications: the outbox relay, the order e-mail and its SMTP transport, webhooks."""
