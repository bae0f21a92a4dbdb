"""A line-day's build sequence: cars in an order the line's stations can take (car
sequencing: CSPLib prob001, ROADEF 2005)."""
