"""Monte Carlo futures and how well promises hold: sampling, windows, scores."""
