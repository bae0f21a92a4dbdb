"""Files in and out: scenario YAML, order books (CSV/Parquet), plan outputs."""
