"""What the runner tells people: progress lines, tables, the HTML sync report."""
