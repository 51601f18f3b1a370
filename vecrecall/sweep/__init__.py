"""`vecrecall sweep`: build each index once per build-parameter set, run the search grid on it, and report recall
against exact ground truth, latency, throughput, the Pareto front and (optionally) the end quality on qrels.

Modules: `grid` (YAML/comma-list grids → build sets × search sets), `groundtruth` (exact top-k, cached),
`harness` (timing, load), `pareto`, `plot`, `report` (the 80-column and --wide tables), `synthetic` (clustered
Gaussian vectors), `data` (inputs), `runner`
(the loop, results on disk, resume) and `tune` (--target-recall).
"""
