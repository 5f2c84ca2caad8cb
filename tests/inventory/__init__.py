"""Inventory tests (a package, so `factories` cannot collide with another module's helpers)."""
