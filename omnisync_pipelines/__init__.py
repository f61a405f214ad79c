"""omnisync: keeps commercetools and a retailer's point-of-sale system telling the same truth."""

__version__ = "0.1.0"

SYSTEMS = ("commercetools", "lightspeed_x", "lightspeed_r", "newstore", "magento")
