"""Coverage-guided fuzzing of one parser target with atheris (libFuzzer), bounded in time.

    python tests/reliability/fuzz/atheris_fuzz.py TARGET [--seeds-dir DIR] [libFuzzer flags]

``TARGET`` is a key of ``fuzz_targets.TARGETS``. The vaults packages are instrumented for
coverage; the target's real-shaped seeds are written to ``--seeds-dir`` and handed to libFuzzer
as a corpus. Pass a time budget (``-max_total_time=S``) or a run count (``-runs=N``). An input
raising anything but the documented errors stops the run with a traceback and a crash file;
libFuzzer's final statistics (``-print_final_stats=1``) give the number of inputs tried.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import atheris

INSTRUMENTED = ["vaults", "vaults_bitwarden", "vaults_onepassword", "vaults_keepass"]


def main() -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("target")
    parser.add_argument("--seeds-dir", type=Path)
    options, fuzzer_args = parser.parse_known_args()

    with atheris.instrument_imports(include=INSTRUMENTED):
        import fuzz_targets

    target = fuzz_targets.TARGETS[options.target]
    corpus: list[str] = []
    if options.seeds_dir is not None:
        options.seeds_dir.mkdir(parents=True, exist_ok=True)
        for index, seed in enumerate(target.seeds()):
            (options.seeds_dir / f"seed-{index:03d}").write_bytes(seed)
        corpus.append(str(options.seeds_dir))

    def one_input(data: bytes) -> None:
        target.entry(data)

    atheris.Setup([sys.argv[0], *fuzzer_args, *corpus], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
