"""HTTP routes, one module per audience: customers, planners, admins, operations."""
