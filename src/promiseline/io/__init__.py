"""Files in and out: scenario YAML, order books (CSV/Parquet), and every output file
(outputs.py: plans, Monte Carlo runs, backtests, allocations)."""
