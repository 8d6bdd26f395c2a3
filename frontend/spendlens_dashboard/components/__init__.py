"""Views shared by the pages: header, filter bar, KPI cards, the API-paged table."""
