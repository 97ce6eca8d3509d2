"""exactsync: is everything the webshop sold booked correctly in Exact Online?"""

__version__ = "0.1.0"

__all__ = ["__version__"]
