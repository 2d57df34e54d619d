"""Test doubles for the notifier's outside world: a message gateway, an SMTP server and a
recipient directory. The gateway and SMTP server are real servers on local ports."""
