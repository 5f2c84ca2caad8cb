"""Returns: return requests, RMA, receiving with restock, refunds, exchanges. Public face (see docs/returns.md)."""
