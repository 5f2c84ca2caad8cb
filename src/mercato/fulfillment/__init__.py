"""Fulfillment: allocation, pick/pack, shipments, carriers, tracking. Public face (see docs/fulfillment.md)."""
