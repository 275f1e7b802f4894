"""`python -m recommender evaluate`: retrieval precision@k / mAP@k, tag accuracy and hubness of indexes."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from recommender.atomic import write_text_atomic
from recommender.commands import positive_int
from recommender.commands.build import add_outside_argument
from recommender.embedding_cache import DEFAULT_CACHE, cached_index
from recommender.errors import IncompatibleIndex, RecommenderError
from recommender.model_spec import ModelSpec

if TYPE_CHECKING:
    from recommender.catalog import Catalog
    from recommender.index import Index

def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="measure retrieval quality (precision@k, mAP@k per attribute) of indexes or backbones",
        description=(
            "Leave-one-out retrieval over a labelled catalogue (or a --queries split against it): for each "
            "query, do its k nearest neighbours share its attribute values? Compares indexes and backbones."
        ),
    )
    add = parser.add_argument
    add("--catalog", type=Path, metavar="DIR",
        help="labelled catalogue (any layout); needed with --backbone, checked against --index")
    add_outside_argument(parser)
    add("--index", type=Path, nargs="+", default=[], metavar="DIR", help="built index(es) of the catalogue")
    add("--backbone", nargs="+", default=[], metavar="NAME|PATH.tflite",
        help="backbone(s) to embed the catalogue with; the index is built once into --cache and reused")
    add("--weights", default="imagenet", metavar="imagenet|none|PATH",
        help="weights of the Keras --backbone(s) (default: imagenet)")
    add("--k", type=positive_int, nargs="+", default=[1, 5, 10], help="neighbour counts (default: 1 5 10)")
    add("--attributes", nargs="+", metavar="NAME",
        help="attributes to score (default: each one with 2 to 200 values, not free text, ids or years)")
    add("--queries", type=Path, metavar="DIR",
        help="a query split or another catalogue's photos (e.g. validation/), embedded like each index (through "
             "its trained head when it has one) and searched against it")
    add("--label-map", type=Path, metavar="CSV",
        help="with --queries from another catalogue: which index values each query value allows (header: query "
             "attribute, index attribute; one allowed pair per row)")
    add("--category-first", type=_threshold, nargs="+", metavar="off|THRESHOLD",
        help="rank with the category-first rule off or at these thresholds, one run each (default: the setting)")
    add("--all-products", action="store_true",
        help="on a trained index, score every product leave-one-out, not only the held-out ones the head never saw")
    add("--looks", type=Path, nargs="+", metavar="DIR",
        help="shop the look: folders of photos with known garment boxes (images/ and garments.csv, as looks-set "
             "makes them); reports garments found, proposals that are garments and P@10 of found garments")
    add("--cache", type=Path, default=DEFAULT_CACHE, metavar="DIR",
        help=f"where --backbone and --queries indexes are kept (default: {DEFAULT_CACHE})")
    add("--json", nargs="?", const="-", metavar="PATH", help="write the results as JSON (to stdout without PATH)")
    add("--html", type=Path, metavar="PATH",
        help="write a Plotly chart comparing the backbones (and a PNG beside it if kaleido is installed)")
    add("--simulate-votes", type=positive_int, metavar="N",
        help="also cast N simulated votes on half of the queries (by hash of their id), learn them as `learn` does, "
             "and report P@10 of the other half before and after (runs[i].simulated_votes)")
    add("--feedback", metavar="DB|URL",
        help="also report this catalogue's thumbs-up rates from this feedback database (SQLite file or postgresql:// URL)")
    parser.set_defaults(func=run)


def _threshold(text: str) -> float | None:
    """argparse type of --category-first: "off", or a probability mass above 0 and at most 1."""
    if text.strip().lower() == "off":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither off nor a number") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not above 0 and at most 1")
    return value


def run(args: argparse.Namespace) -> int:
    from recommender.catalog import load_catalog
    from recommender.evaluation import report
    from recommender.evaluation.run import catalogue_queries, evaluate_index, own_queries
    from recommender.index import Index
    from recommender.label_map import read_label_map
    from recommender.ranking import RankingSettings

    if not args.index and not args.backbone:
        raise RecommenderError("Give at least one --index DIR or --backbone NAME to evaluate.")
    if args.looks:
        return _run_looks(args)
    if args.backbone and args.catalog is None:
        raise RecommenderError("--backbone needs the labelled catalogue to embed: add --catalog DIR.")
    if args.label_map and args.queries is None:
        raise RecommenderError("--label-map ties the queries' catalogue to the index's: add --queries DIR.")
    label_map = read_label_map(args.label_map) if args.label_map else None
    shop = RankingSettings.from_env()
    rankings = [replace(shop, category_first=t) for t in args.category_first] if args.category_first else [shop]
    log = sys.stderr if args.json == "-" else sys.stdout  # keep stdout pure JSON when it carries the JSON

    outside = args.images_outside_catalog
    catalog = load_catalog(args.catalog, images_outside=outside) if args.catalog else None
    queries_catalog = load_catalog(args.queries, images_outside=outside) if args.queries else None
    indexes = [Index.load(index_dir) for index_dir in args.index]
    if catalog is not None:
        for index in indexes:
            _check_built_from(index, catalog)
    indexes += [cached_index(catalog, ModelSpec.parse(backbone, args.weights), args.cache, log)
                for backbone in args.backbone]

    runs, simulated = [], []
    for index in indexes:
        if queries_catalog is not None:  # embedded with this index's backbone and weights, then its head
            pictures = cached_index(queries_catalog, index.model, args.cache, log, index.manifest.appearance_version)
            queries = catalogue_queries(index, pictures)
        else:
            queries = own_queries(index, all_products=args.all_products)
        for settings in rankings:
            print(f"evaluating {index.path} ...", file=log, flush=True)
            runs.append(evaluate_index(index, args.k, args.attributes, queries=queries, label_map=label_map,
                                       settings=settings, progress=log.isatty()))
            print(report.format_run(runs[-1], args.k) + "\n", file=log, flush=True)
            if args.simulate_votes:
                simulated.append(_simulate(index, queries, args.simulate_votes, settings, label_map, log))

    catalog_identity = indexes[0].manifest.catalog.identity
    feedback = report.feedback_report(args.feedback, catalog_identity) if args.feedback else None
    if args.feedback:
        print(report.format_feedback(feedback, args.feedback), file=log)
    results = report.report_json(runs, args.k, feedback)
    for run_json, figures in zip(results["runs"], simulated):
        run_json["simulated_votes"] = figures
    if args.html:
        figure = report.comparison_figure(runs, args.k, _title(indexes[0], queries_catalog))
        _write_chart(figure, args.html, log)
    return _emit_json(args, results, log)


def _run_looks(args: argparse.Namespace) -> int:
    """evaluate --looks: each folder's shop-the-look figures on each index."""
    from recommender.engine import Recommender
    from recommender.evaluation.looks import evaluate_looks, print_looks

    log = sys.stderr if args.json == "-" else sys.stdout
    results = []
    for index_dir in args.index:
        engine = Recommender.open(index_dir)
        for folder in args.looks:
            print(f"shop the look on {folder} with {index_dir} ...", file=log, flush=True)
            results.append({"index": str(index_dir), **evaluate_looks(engine, folder, max(args.k))})
            print_looks(results[-1], log)
    return _emit_json(args, results, log)


def _simulate(index: Index, queries: object, votes: int, settings: object, label_map: object, log: TextIO) -> dict:
    """--simulate-votes: P@10 of the held-out half before and after learning simulated votes, printed and returned."""
    from recommender.evaluation.simulated_votes import simulate_votes

    print(f"simulating {votes:,} votes on {index.path} ...", file=log, flush=True)
    figures = simulate_votes(index, queries, votes, settings=settings, label_map=label_map)
    print(f"simulated votes: {figures['votes']:,} from {figures['sessions']:,} queries; P@10 of the other half "
          f"({figures['queries_scored']:,} queries) {figures['p10_before']} -> {figures['p10_after']}; on kinds "
          f"nobody voted on ({figures['unvoted_kinds_queries']:,}) {figures['unvoted_kinds_p10_before']} -> "
          f"{figures['unvoted_kinds_p10_after']}; vote memory {'on' if figures['memory_on'] else 'off'}: "
          f"{figures['memory_switch']['reason']}\n", file=log, flush=True)
    return figures


def _emit_json(args: argparse.Namespace, results: object, log: TextIO) -> int:
    """--json: the results to stdout ("-") or to a file."""
    if args.json == "-":
        json.dump(results, sys.stdout, indent=2)
        print()
    elif args.json:
        _write_report(Path(args.json), json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}", file=log)
    return 0


def _check_built_from(index: Index, catalog: Catalog) -> None:
    """Refuse to score an index against the labels of a catalogue it was not built from."""
    if index.manifest.catalog.fingerprint != catalog.fingerprint():
        raise IncompatibleIndex(
            f"The index {index.path} was not built from the catalogue {catalog.root} (or that catalogue "
            "changed since); rebuild it or drop --catalog."
        )


def _title(index: Index, queries_catalog: Catalog | None) -> str:
    def short(path: Path) -> str:  # "clothing-small/train": the last folder alone can be ambiguous
        return "/".join(path.parts[-2:])

    where = short(Path(index.manifest.catalog.path))
    if queries_catalog is not None:
        return f"Retrieval precision: {short(queries_catalog.root)} queries against {where}"
    return f"Retrieval precision, leave-one-out on {where}"


def _write_chart(figure, path: Path, log: TextIO) -> None:
    """Self-contained HTML (works offline); a PNG beside it only when kaleido is importable."""
    _write_report(path, figure.to_html(include_plotlyjs=True, full_html=True))
    print(f"wrote {path}", file=log)
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return
    png = path.with_suffix(".png")
    figure.write_image(png, width=1400, height=520)
    print(f"wrote {png}", file=log)


def _write_report(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)
