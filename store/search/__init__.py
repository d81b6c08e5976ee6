"""The store on a search cluster: Elasticsearch (the official client) or OpenSearch (opensearch-py).

bodies.py holds the index templates, mappings and queries both share; client.py wraps each client;
store.py is the `SearchStore` (with `ElasticsearchStore` and `OpenSearchStore`) and the post path;
each other area of the store contract is a mixin in its own module (see store.py).
"""
from store.search.store import ElasticsearchStore, NotPortedError, OpenSearchStore, SearchStore

__all__ = ["ElasticsearchStore", "NotPortedError", "OpenSearchStore", "SearchStore"]
