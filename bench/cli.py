"""`python -m bench` (and its alias `python -m recommender benchmark`): speed and memory, the project's
pipeline vs common baselines. The tooling lives outside the product package, so serving never loads it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recommender.commands import positive_int

from bench import SECTIONS  # the package's __init__ imports nothing

# options given only when set, and the BenchmarkConfig field each one sets
OPTION_FIELDS = {"index_sizes": "index_sizes", "catalog": "build_catalog", "ann_real": "ann_real",
                 "ann_sizes": "ann_sizes", "ann_workdir": "ann_workdir", "look_index": "look_index",
                 "look_photos": "look_photos"}
DESCRIPTION = ("Measure speed and memory side by side with the usual baselines "
               "(model.predict one image at a time, scikit-learn brute-force kNN). Progress goes to stderr.")


def build_parser(prog: str = "python -m bench") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    parser.add_argument("--quick", action="store_true", help="small samples, 44k index only, no build (< 1 min)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--images", type=Path, help="folder of JPEGs to embed (default: the shared Kaggle images)")
    parser.add_argument("--backbone", default="resnet50", help="Keras backbone to time (default: resnet50)")
    parser.add_argument("--index-sizes", type=positive_int, nargs="+", metavar="ROWS",
                        help="synthetic index sizes (default: 44000 1000000; --quick: 44000)")
    parser.add_argument("--catalog", type=Path, help="catalogue for the whole-build timing")
    parser.add_argument("--ann-real", type=Path, metavar="DIR",
                        help="index folder of real vectors for the ann section (default: embeddings/kaggle-small-v2, "
                             "build it with --backbone ../shared/models/mobilenet_v2_1.0_224_quant.tflite)")
    parser.add_argument("--ann-sizes", type=positive_int, nargs="+", metavar="ROWS",
                        help="ann section sizes (default: 1000000 10000000; up to 2M through Index.search)")
    parser.add_argument("--ann-workdir", type=Path, metavar="DIR",
                        help="where the ann section writes its synthetic indexes and keeps them for reruns (an HNSW "
                             "over 1M vectors takes about half an hour on 2 cores; default: a temporary folder)")
    parser.add_argument("--look-index", type=Path, metavar="DIR",
                        help="a trained index: time shop the look beside a single photo search on it (section look)")
    parser.add_argument("--look-photos", type=Path, metavar="DIR",
                        help="JPEG photos of people for the look section (default: the sampled images)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, metavar="SECTION",
                        help=f"run only these sections ({', '.join(SECTIONS)})")
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m bench") -> int:
    """Parse `argv`, run the chosen sections and print the table (or JSON); the exit status."""
    args = build_parser(prog).parse_args(argv)
    # The measuring code (psutil, threadpoolctl, scikit-learn, the index) loads only when a benchmark runs.
    from bench.report import render_table
    from bench.run import BenchmarkConfig, run_benchmark

    overrides: dict = {"images": args.images, "backbone": args.backbone}
    for option, field in OPTION_FIELDS.items():
        value = getattr(args, option)
        if value:
            overrides[field] = tuple(value) if isinstance(value, list) else value
    if args.only:
        overrides["sections"] = tuple(s for s in SECTIONS if s in args.only)
    config = BenchmarkConfig.quick_preset(**overrides) if args.quick else BenchmarkConfig(**overrides)
    report = run_benchmark(config)
    print(json.dumps(report, indent=2) if args.json else render_table(report))
    return 0
