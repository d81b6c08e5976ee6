"""Synthetic demo sample (合成演示数据) that `scheduler.py --demo` replays.

`sample.jsonl` is produced by `python -m collectors.demo_data.generate`; see README.md.
Nothing here is real speech by real staff: every post is generated from the phrase banks in
phrases/*.txt with a fixed random seed.
"""
