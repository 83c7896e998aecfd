"""``python -m engine.bench``: the bench without the bot's dependencies (what a bare GPU machine needs)."""

from engine.bench.cli import bench_main

raise SystemExit(bench_main())
