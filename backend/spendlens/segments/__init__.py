"""RFM segmentation: scores and named segments per customer as of a day, stored as snapshots."""
