"""promiseline: honest delivery dates for every order in a surge."""
