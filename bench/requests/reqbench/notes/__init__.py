"""The tenant table every variant serves: ``Note`` (ten rows per tenant)."""
