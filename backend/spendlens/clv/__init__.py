"""Customer lifetime value: BG/NBD and Gamma-Gamma fits (a job), and each customer's estimates."""
