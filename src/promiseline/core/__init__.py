"""The pure core: no files, no clocks, no globals; randomness only from explicit seeds."""
