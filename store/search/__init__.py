"""The store on a search cluster: Elasticsearch (the official client) or OpenSearch (opensearch-py).

bodies.py holds the index templates, mappings and queries both share; client.py wraps each client;
store.py is the `SearchStore` (with `ElasticsearchStore` and `OpenSearchStore`). Under construction:
the post path is ported (see store.py); every other method raises `NotPortedError`.
"""
from store.search.store import ElasticsearchStore, NotPortedError, OpenSearchStore, SearchStore

__all__ = ["ElasticsearchStore", "NotPortedError", "OpenSearchStore", "SearchStore"]
