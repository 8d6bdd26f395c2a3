"""Import of transactions and customers: native CSV, JSON, Online Retail and mapped CSV files."""
