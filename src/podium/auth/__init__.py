"""Accounts and tenancy: passwords, tokens, users, apps, members and API keys."""
