"""What is planned: the scenario, orders and their lifecycle, what the store keeps."""
