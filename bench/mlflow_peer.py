#!/usr/bin/env python3
"""MLflow's Model Registry (SqlAlchemyStore, SQLite backend) on the workload of bench/compare.

    python3 bench/mlflow_peer.py --probe
    python3 bench/mlflow_peer.py [--versions N] [--per-process P] [--rounds K] [--dir PATH]

bench/compare runs this with whichever Python can import MLflow (see bench/README.md: a
`pip install mlflow==2.12.2`, or a checkout of MLflow's v2.12.2 tag on PYTHONPATH with Debian's
python3-sqlalchemy, python3-alembic and friends). Nothing of MLflow is part of modelreg; this
script only calls the public methods of MLflow's own store.

--probe prints MLflow's version and exits 0 when the store can be imported, else prints why not
and exits 1. Otherwise it runs the workload K times (default 1), each round on a fresh database
file, and prints one JSON object: the median of each figure over the rounds, and every round's.

The workload, for N versions (1,000 for the published figures; smaller N scales every count):
- register: N versions of one model, each with 3 tags and a description (those of
  bench/registry_bench.cpp), one create_model_version call each; versions/s, and the median
  time of one registration over the first and over the last tenth of them (ms);
- promote: N / 5 promotions to Production, archiving the version that was there (what
  modelreg's promotion does); promotions/s;
- production: 2 N lookups of the Production version (get_latest_versions(name, ["Production"]));
  lookups/s;
- search: N / 10 searches each returning all N versions of the model
  (search_model_versions("name = '...'")); searches/s;
- concurrent: 4 processes, each with a store of its own on one fresh database, register P
  (default N / 4) versions each into one model, timed from when all have opened the store until the last one
  ends; versions/s in total.
"""

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

MODEL = "resnet50"
TAGS = (("team", "vision-platform"), ("dataset", "imagenet-2012-train"),
        ("git_commit", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"))
DESCRIPTION = "ResNet-50 fine-tuned on ImageNet-2012 by the nightly sweep; candidate for serving."
PROCESSES = 4


def import_store():
    import mlflow  # noqa: F401  (its version is reported)
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore
    from mlflow.entities.model_registry import ModelVersionTag
    return mlflow.__version__, SqlAlchemyStore, ModelVersionTag


def quiet():
    # MLflow logs every schema migration of a fresh database at INFO.
    import logging
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow").setLevel(logging.WARNING)


def open_store(db_path):
    _, SqlAlchemyStore, _ = import_store()
    return SqlAlchemyStore(f"sqlite:///{db_path}")


def tags():
    _, _, ModelVersionTag = import_store()
    return [ModelVersionTag(key, value) for key, value in TAGS]


def register(store, count, prefix):
    """Registers count versions; returns each registration's duration in seconds."""
    version_tags = tags()
    durations = []
    for i in range(count):
        started = time.perf_counter()
        store.create_model_version(MODEL, f"/artifacts/{prefix}{i}", tags=version_tags,
                                   description=DESCRIPTION)
        durations.append(time.perf_counter() - started)
    return durations


def rate(count, seconds):
    return count / seconds if seconds > 0 else None


def concurrent_writer(db_path, count, writer, ready, go):
    quiet()
    store = open_store(db_path)
    ready.release()
    go.wait()
    register(store, count, f"p{writer}-")


def concurrent_round(scratch, per_process):
    db_path = scratch / "concurrent.db"
    open_store(db_path).create_registered_model(MODEL)  # creates the schema before the clock
    context = multiprocessing.get_context("spawn")
    ready = context.Semaphore(0)
    go = context.Event()
    workers = [context.Process(target=concurrent_writer,
                               args=(str(db_path), per_process, w, ready, go))
               for w in range(PROCESSES)]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.acquire()
    started = time.perf_counter()
    go.set()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    if any(worker.exitcode != 0 for worker in workers):
        raise RuntimeError("a concurrent MLflow writer failed")
    total = len(open_store(db_path).search_model_versions(f"name = '{MODEL}'",
                                                          max_results=2 * PROCESSES * per_process))
    if total != PROCESSES * per_process:
        raise RuntimeError(f"{total} versions registered, {PROCESSES * per_process} expected")
    return rate(total, seconds)


def one_round(scratch, versions, per_process):
    store = open_store(scratch / "mlflow.db")
    store.create_registered_model(MODEL)
    figures = {}

    started = time.perf_counter()
    durations = register(store, versions, "v")
    figures["register"] = rate(versions, time.perf_counter() - started)
    # How registration slows as the model grows: the median of the first and of the last tenth.
    tenth = max(1, versions // 10)
    figures["register_first_ms"] = 1000 * statistics.median(durations[:tenth])
    figures["register_last_ms"] = 1000 * statistics.median(durations[-tenth:])

    promotions = max(1, versions // 5)
    started = time.perf_counter()
    for i in range(promotions):
        store.transition_model_version_stage(MODEL, str(i % versions + 1), "Production",
                                             archive_existing_versions=True)
    figures["promote"] = rate(promotions, time.perf_counter() - started)

    lookups = 2 * versions
    started = time.perf_counter()
    for _ in range(lookups):
        found = store.get_latest_versions(MODEL, ["Production"])
    figures["production"] = rate(lookups, time.perf_counter() - started)
    if len(found) != 1:
        raise RuntimeError(f"{len(found)} Production versions, 1 expected")

    searches = max(1, versions // 10)
    started = time.perf_counter()
    for _ in range(searches):
        hits = store.search_model_versions(f"name = '{MODEL}'", max_results=10 * versions)
    figures["search"] = rate(searches, time.perf_counter() - started)
    if len(hits) != versions:
        raise RuntimeError(f"a search returned {len(hits)} versions, {versions} expected")

    figures["concurrent"] = concurrent_round(scratch, per_process)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--probe", action="store_true",
                        help="only say whether MLflow's store can be imported")
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--per-process", type=int, default=None,
                        help="registrations per process of the concurrent figure "
                             f"(default: versions / {PROCESSES})")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    try:
        version, _, _ = import_store()
    except Exception as e:  # an ImportError, or one of MLflow's own dependencies failing
        print(f"MLflow's SqlAlchemyStore cannot be imported: {type(e).__name__}: {e}")
        return 1
    if args.probe:
        print(version)
        return 0
    per_process = args.per_process or args.versions // PROCESSES
    if args.versions < PROCESSES or args.rounds < 1 or per_process < 1:
        parser.error(f"--versions must be at least {PROCESSES}, --rounds and --per-process at "
                     "least 1")
    quiet()
    rounds = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="mlflow-peer-", dir=args.dir) as scratch:
            rounds.append(one_round(Path(scratch), args.versions, per_process))
    medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    print(json.dumps({"mlflow_version": version, "python": sys.version.split()[0],
                      "versions": args.versions, "per_process": per_process, "rounds": rounds, "median": medians}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
