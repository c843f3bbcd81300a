"""Benchmark suites behind `rtxcourse bench <topic>`; each uses the toolkit in rtxcourse.bench."""
