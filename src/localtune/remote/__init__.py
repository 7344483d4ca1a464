"""The headless training server (see server.py); no Qt here."""
