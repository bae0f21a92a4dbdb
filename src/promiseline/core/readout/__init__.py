"""What a plan says: its summary, the export outlook, explanations, the overview."""
