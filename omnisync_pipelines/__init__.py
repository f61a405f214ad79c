"""omnisync: keeps commercetools and a retailer's point-of-sale systems telling the same truth.
The systems it speaks to are listed in `omnisync_pipelines/systems.py`."""

__version__ = "0.1.0"
