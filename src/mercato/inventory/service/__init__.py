"""Inventory use cases: each flushes, never commits (the caller's transaction is the unit of work)."""

from mercato.inventory.service.availability import availability
from mercato.inventory.service.levels import (
    adjust,
    get_settings,
    list_ledger,
    list_levels,
    update_level,
    update_settings,
    variant_inventory,
)
from mercato.inventory.service.locations import (
    create_location,
    delete_location,
    get_location,
    list_locations,
    update_location,
)
from mercato.inventory.service.reservations import (
    commit,
    commit_lines,
    expire,
    extend,
    get_reservation,
    release,
    reserve,
)

__all__ = ["adjust", "availability", "commit", "commit_lines", "create_location", "delete_location", "expire", "extend",
           "get_location", "get_reservation", "get_settings", "list_ledger", "list_levels", "list_locations",
           "release", "reserve", "update_level", "update_location", "update_settings", "variant_inventory"]
