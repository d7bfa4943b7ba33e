"""What the runner reports about syncs: the HTML sync report (`dbt-segment report`)."""
