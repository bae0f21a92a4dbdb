"""Questions asked of many plans: what-ifs, capacity sizing, export allocation."""
