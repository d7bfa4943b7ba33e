"""The state kept in the warehouse: acknowledgements, issues, orphaned bookkeeping."""
