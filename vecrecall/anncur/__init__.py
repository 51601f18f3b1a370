"""Cross-encoder k-NN search without scoring every item: ANNCUR (Yadav et al., 2022) and ADACUR.

- `scorers`  pluggable expensive scorers (cross-encoder, [EMB]-CE, MaxSim, precomputed matrix), a score cache and a
             call counter that enforces CE-call budgets;
- `cur`      anchors, pseudo-inverse, item embeddings, approximate scores, effective rank;
- `adaptive` ADACUR: anchor items chosen over rounds by the current approximation;
- `methods`  the test-time methods under a budget (ANNCUR random / bi-encoder anchors, ADACUR, bi-encoder rerank);
- `artifact` the `anncur index` directory; `bench` recall against exact CE search at each budget.
"""
