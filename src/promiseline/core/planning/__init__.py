"""The planning rule: capacity, the kernel, the planner, the plan and quotes."""
