"""Settings modules of the migrate benchmark (``omni`` and ``dt``)."""
