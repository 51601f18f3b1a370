"""annoy through the backend conformance suite (search_k large enough to inspect every vector)."""

from backend_conformance import BackendConformance


class TestAnnoy(BackendConformance):
    backend = "annoy"
    build = {"n_trees": 10}
    search = {"search_k": 20000}
    min_recall = 0.99
