"""dbt-segment-profiles: send the rows your dbt models changed to Segment Profiles."""

__version__ = "0.1.0"
