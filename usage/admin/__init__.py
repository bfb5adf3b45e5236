"""Admin of usage: prices, limits, the append-only ledger with corrections and totals, holds
and alerts; usage columns and limit inlines added to the accounts admins."""

from usage.admin import accounts, ledger, limits  # noqa: F401
