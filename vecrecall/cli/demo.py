"""vecrecall demo: the whole chain on sample_data/."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import common


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Directory for the demo's artifacts (written as one "
                             "unit; an existing one needs --overwrite, which replaces only an earlier demo or artifact)."),
    data: Optional[Path] = typer.Option(None, "--data", help="A BEIR directory (default: the sample_data/ shipped with vecrecall)."),
    model: Optional[str] = common.MODEL,
    backend: str = typer.Option("auto", "--backend", help="Encoder runtime: auto (ONNX Runtime int8 when the fast extra is installed, else torch), torch, onnx or openvino (as encode's --backend)."),
    quantize: Optional[str] = typer.Option(None, "--quantize", help="With --backend onnx/openvino: none or int8 (as encode's --quantize; default none)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Encoder threads (default: 1 when the load average shows every CPU busy with other jobs, else the runtime's choice)."),
    print_paths: bool = typer.Option(False, "--print-paths", help="Print where the shipped sample_data/ and configs/ are installed, and exit."),
    json_out: bool = common.JSON,
    overwrite: bool = common.OVERWRITE,
) -> None:
    """Encode sample_data/, build faiss Flat and IVF indexes, query both and print an eval table with the time of each step.

    Example: vecrecall demo --out runs/demo
    """
    import time

    from ..progress import out as stdout

    t0 = time.perf_counter()
    if print_paths:
        from ..resources import data_dir

        paths = {name: str(data_dir(name)) for name in ("sample_data", "configs")}
        if json_out:
            common.print_json(paths)
        else:
            for name, path in paths.items():
                typer.echo(f"{name}\t{path}")
        return

    from rich.table import Table

    from ..demo import machine_load, run_demo

    res = run_demo(out, data, model, overwrite=overwrite, backend=backend, quantize=quantize, threads=threads)
    report, total = res.report, time.perf_counter() - t0
    load, cpus = machine_load()
    if json_out:
        common.print_json({"means": report.means, "encoder": res.encoder, "seconds": res.seconds,
                           "total_s": round(total, 3), "cpu_s": res.cpu_s, "threads": res.threads,
                           "load_1min": round(load, 2), "cpus": cpus})
        return
    names = [m.name for m in report.measures]
    data_name = Path(data).name if data else "sample_data"
    table = Table(title=f"vecrecall demo: {data_name}, {report.n_queries['flat.run']} queries, model {res.encoder}")
    table.add_column("run")
    for m in names:
        table.add_column(m, justify="right")
    for run, vals in report.means.items():
        table.add_row(run, *[f"{vals[m]:.4f}" for m in names])
    stdout.print(table)
    steps = ", ".join(f"{step} {s:.1f}s" for step, s in res.seconds.items())
    stdout.print(f"artifacts in {out}/ (try: vecrecall info {out}/ivf.run)", highlight=False)
    busy = f", load average {load:.1f} on {cpus} CPUs: other jobs competed for them" if load > cpus else ""
    used = f", encoder threads {res.threads}" if res.threads else ""
    stdout.print(f"demo took {total:.1f}s ({res.cpu_s:.1f}s of CPU{used}{busy}): {steps}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
