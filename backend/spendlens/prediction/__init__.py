"""Next-month purchase and churn models (issue 11): features at a cutoff, training beside a
baseline, storage and scoring."""
