"""The pages: a planner dashboard and a customer order page (an adapter, like the HTTP
API: server-rendered Jinja2 with htmx and uPlot shipped inside the package; every number
comes from the core's aggregates or the order desk)."""
