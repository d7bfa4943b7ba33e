"""What the runner tells people: progress lines, tables."""
