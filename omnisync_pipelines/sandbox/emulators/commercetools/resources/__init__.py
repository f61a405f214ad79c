"""Every stored resource type, by URL segment."""

from .base import ResourceKind
from .customers import CUSTOMERS
from .inventory import INVENTORY
from .orders import ORDERS
from .payments import PAYMENTS
from .products import PRODUCTS
from .setup import CHANNELS, CUSTOMER_GROUPS, PRODUCT_TYPES, STORES, TYPES
from .shipping import SHIPPING_METHODS, TAX_CATEGORIES, ZONES

KINDS: dict[str, ResourceKind] = {
    kind.path: kind
    for kind in (CHANNELS, STORES, TYPES, PRODUCT_TYPES, PRODUCTS, INVENTORY, ORDERS, PAYMENTS, CUSTOMERS,
                 CUSTOMER_GROUPS, TAX_CATEGORIES, ZONES, SHIPPING_METHODS)
}

__all__ = ["KINDS", "ResourceKind"]
