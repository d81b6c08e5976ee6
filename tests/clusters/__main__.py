"""`python -m tests.clusters`: build the cluster launchers ahead of the tests (CI does), or run a
cluster by hand to look at it."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.clusters.cluster import ENGINES, ClusterFailed, ClusterUnavailable, SearchCluster, build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.clusters",
        description="测试用的搜索集群：预先构建（Maven 下载引擎 jar 并编译启动器），或手动启动一个三节点集群。")
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="构建启动器并下载引擎的 jar（结果缓存在 ~/.cache/union-sentinel/clusters）")
    prep.add_argument("engines", nargs="*", metavar="ENGINE",
                      help="opensearch 和/或 elasticsearch；不写则两个都构建")
    run = sub.add_parser("run", help="启动一个三节点集群，打印地址，按 Ctrl-C 停止")
    run.add_argument("engine", choices=list(ENGINES), help="opensearch 或 elasticsearch")
    run.add_argument("--dir", type=Path, help="节点数据和日志的目录（默认：新建临时目录）")
    args = parser.parse_args(argv)
    unknown = [e for e in getattr(args, "engines", []) if e not in ENGINES]
    if unknown:
        parser.error(f"不认识的引擎：{'、'.join(unknown)}（可选：{'、'.join(ENGINES)}）")

    try:
        if args.command == "prepare":
            for name in args.engines or list(ENGINES):
                started = time.monotonic()
                print(f"{name}：准备中（没有缓存时由 Maven 从 Maven Central 下载 jar 并编译启动器）……", flush=True)
                b = build(ENGINES[name])
                print(f"{name}：就绪，用时 {time.monotonic() - started:.1f} 秒；Java {b.jdk.major}（{b.jdk.home}）；"
                      f"{len(b.lib)} 个 jar 在 {b.directory}", flush=True)
            return 0
        directory = args.dir or Path(tempfile.mkdtemp(prefix=f"sentinel-{args.engine}-"))
        print(f"{args.engine}：启动三个节点（目录 {directory}）……", flush=True)
        cluster = SearchCluster.start(args.engine, directory)
        print(f"{args.engine}：集群 {cluster.name} 已就绪，用时 {cluster.started_in:.1f} 秒", flush=True)
        for node in cluster.nodes:
            print(f"  {node.name}  {node.url}  pid {node.pid}  日志 {node.log_path}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("停止集群……", flush=True)
            cluster.stop()
        return 0
    except (ClusterUnavailable, ClusterFailed) as e:
        print(f"错误：{e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
